// TensorBoard event files: CRC-32C, TFRecord framing, the protobuf wire format and the Event and
// Summary messages, decoded by a reader written for the tests (tests/support/tfevents_reader: field
// number -> raw bytes; fuzzed by tests/fuzz/fuzz_tensorboard.cpp).
// tests/cli/tensorboard_events.sh checks a whole run's file with an independent Python reader.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <opencv2/imgcodecs.hpp>

#include "engine/sample_images.h"
#include "engine/tensorboard_events.h"
#include "engine/tensorboard_writer.h"
#include "util/crc32c.h"
#include "util/protobuf_encoder.h"
#include "util/tfrecord_writer.h"

#include "../support/tfevents_reader.h"

namespace fs = std::filesystem;
namespace tb = xp::engine::tensorboard;

namespace {

using xp::testing::as_double;
using xp::testing::as_float;
using xp::testing::field;
using xp::testing::Field;
using xp::testing::read_records;

std::vector<Field> decode(const std::string& message) { return xp::testing::decode_fields(message); }

uint64_t le(const std::string& s, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(s[pos + i])) << (8 * i);
  return v;
}

struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() / ("xp_tb_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

}  // namespace

TEST_CASE("crc32c: the standard check values") {
  CHECK(xp::crc32c("123456789") == 0xE3069283u);
  CHECK(xp::crc32c(std::string(32, '\0')) == 0x8A9136AAu);
  CHECK(xp::crc32c(std::string(32, '\xff')) == 0x62A8AB43u);
  CHECK(xp::crc32c("") == 0u);
  // Continuing over a second piece equals one pass over both.
  CHECK(xp::crc32c("56789", xp::crc32c("1234")) == 0xE3069283u);
  const uint32_t c = 0xE3069283u;
  CHECK(xp::masked_crc32c("123456789") == ((c >> 15) | (c << 17)) + 0xA282EAD8u);
}

TEST_CASE("tfrecord: length, masked CRC of the length, data, masked CRC of the data") {
  const std::string data = "hello";
  const std::string framed = xp::tfrecord_frame(data);
  REQUIRE(framed.size() == 8 + 4 + data.size() + 4);
  CHECK(le(framed, 0, 8) == data.size());
  CHECK(le(framed, 8, 4) == xp::masked_crc32c(framed.substr(0, 8)));
  CHECK(framed.substr(12, data.size()) == data);
  CHECK(le(framed, 12 + data.size(), 4) == xp::masked_crc32c(data));
  // The empty record: its length field is eight zero bytes.
  CHECK(le(xp::tfrecord_frame(""), 8, 4) == xp::masked_crc32c(std::string(8, '\0')));

  TempDir dir;
  fs::create_directories(dir.path);
  {
    xp::TFRecordWriter w(dir.path / "r.tfrecord");
    w.write("a");
    w.write(std::string(300, 'b'));
    CHECK(fs::file_size(w.path()) == 0);  // buffered
    w.flush();
    CHECK(fs::file_size(w.path()) == 17 + 316);
    w.write("c");
  }  // the destructor flushes
  auto records = read_records(dir.path / "r.tfrecord");
  REQUIRE(records.size() == 3);
  CHECK(records[1] == std::string(300, 'b'));
  CHECK(records[2] == "c");
}

TEST_CASE("protobuf: varints, fixed-width and length-delimited fields") {
  xp::ProtobufEncoder e;
  e.varint(1, 150);
  CHECK(e.data() == std::string("\x08\x96\x01", 3));  // the protobuf documentation's example
  xp::ProtobufEncoder n;
  n.int64(2, -1);
  CHECK(n.data().size() == 1 + 10);  // negative int64: ten bytes
  xp::ProtobufEncoder s;
  s.bytes(2, "testing");
  CHECK(s.data() == std::string("\x12\x07testing", 9));
  xp::ProtobufEncoder f;
  f.float32(2, 1.5f).float64(1, -2.25).varint(16, 1);
  auto fields = decode(f.data());
  REQUIRE(fields.size() == 3);
  CHECK(as_float(fields[0]) == 1.5f);
  CHECK(as_double(fields[1]) == -2.25);
  CHECK(fields[2].number == 16);
  CHECK(f.data().substr(f.data().size() - 3, 2) == std::string("\x80\x01", 2));  // field 16: a two-byte key
}

TEST_CASE("tensorboard events: file version, scalar, image and hparams messages") {
  auto version = decode(tb::file_version_event(1700000000.5));
  CHECK(as_double(field(version, 1)) == 1700000000.5);
  CHECK(field(version, 3).bytes == "brain.Event:2");

  auto scalar = decode(tb::scalar_event(12.0, 40, "epoch/val_top1", 0.8125f));
  CHECK(field(scalar, 2).varint == 40);
  auto value = decode(field(decode(field(scalar, 5).bytes), 1).bytes);
  CHECK(field(value, 1).bytes == "epoch/val_top1");
  CHECK(as_float(field(value, 2)) == 0.8125f);

  tb::EncodedImage img{7, 5, 3, "PNGBYTES"};
  auto image = decode(field(decode(field(decode(field(decode(tb::image_event(1, 0, "x", img)), 5).bytes), 1).bytes), 4).bytes);
  CHECK(field(image, 1).varint == 7);
  CHECK(field(image, 2).varint == 5);
  CHECK(field(image, 3).varint == 3);
  CHECK(field(image, 4).bytes == "PNGBYTES");

  auto start = decode(field(decode(tb::session_start_event(5.0, {{"lr", "0.001"}, {"name", "adamw"}, {"ema", "false"}})), 5).bytes);
  auto start_value = decode(field(start, 1).bytes);
  CHECK(field(start_value, 1).bytes == "_hparams_/session_start_info");
  auto plugin = decode(field(decode(field(start_value, 9).bytes), 1).bytes);
  CHECK(field(plugin, 1).bytes == "hparams");
  CHECK(decode(field(start_value, 8).bytes).size() == 2);  // an empty float tensor: dtype and shape
  auto content = decode(field(plugin, 2).bytes);
  auto info = decode(field(content, 3).bytes);  // HParamsPluginData.session_start_info
  std::map<std::string, std::vector<Field>> hparams;
  for (const auto& f : info)
    if (f.number == 1) {
      auto entry = decode(f.bytes);
      hparams[field(entry, 1).bytes] = decode(field(entry, 2).bytes);
    }
  REQUIRE(hparams.size() == 3);
  CHECK(as_double(field(hparams["lr"], 2)) == 0.001);  // number_value
  CHECK(field(hparams["name"], 3).bytes == "adamw");   // string_value
  CHECK(field(hparams["ema"], 4).varint == 0);         // bool_value
  CHECK(as_double(field(info, 5)) == 5.0);             // start_time_secs

  auto end = decode(field(decode(tb::session_end_event(9.0, 24, tb::SessionStatus::Success)), 5).bytes);
  auto end_value = decode(field(end, 1).bytes);
  CHECK(field(end_value, 1).bytes == "_hparams_/session_end_info");
  auto end_info = decode(field(decode(field(decode(field(decode(field(end_value, 9).bytes), 1).bytes), 2).bytes), 4).bytes);
  CHECK(field(end_info, 1).varint == 1);
  CHECK(as_double(field(end_info, 2)) == 9.0);
}

TEST_CASE("tensorboard writer: one events file per writer, images as PNG") {
  TempDir dir;
  fs::path first;
  {
    xp::engine::TensorBoardWriter w(dir.path / "tensorboard");
    first = w.path();
    CHECK(first.filename().string().rfind("events.out.tfevents.", 0) == 0);
    w.scalar("step/lr", 10, 0.5);
    cv::Mat rgb(3, 4, CV_8UC3, cv::Scalar(10, 200, 30));
    w.image("train_inputs/0", 0, rgb);
  }
  xp::engine::TensorBoardWriter second(dir.path / "tensorboard");
  CHECK(second.path() != first);  // a resumed run appends a file, even within the same second
  auto records = read_records(first);
  REQUIRE(records.size() == 3);
  CHECK(field(decode(records[0]), 3).bytes == "brain.Event:2");
  auto image = decode(field(decode(field(decode(field(decode(records[2]), 5).bytes), 1).bytes), 4).bytes);
  CHECK(field(image, 1).varint == 3);
  CHECK(field(image, 2).varint == 4);
  const std::string& png = field(image, 4).bytes;
  cv::Mat back = cv::imdecode(std::vector<uchar>(png.begin(), png.end()), cv::IMREAD_COLOR);
  REQUIRE(back.rows == 3);
  CHECK(back.at<cv::Vec3b>(0, 0) == cv::Vec3b(30, 200, 10));  // decoded as BGR: the RGB order was kept
}

TEST_CASE("sample images: inputs back to pixels") {
  // The loader's uint8 / 255.
  auto x = torch::full({2, 1, 2, 3}, 128.0 / 255.0);
  auto pixels = xp::engine::batch_to_pixels(x, 8, std::nullopt);
  REQUIRE(pixels.size() == 2);
  CHECK(pixels[0].type() == CV_8UC1);
  CHECK(pixels[0].at<uchar>(1, 2) == 128);
  // Inverting normalize: (x * std + mean) * max.
  xp::engine::PixelNormalization norm{{0.5, 0.5, 0.5}, {0.25, 0.25, 0.25}, 255.0};
  auto y = torch::zeros({3, 3, 2, 2});
  y.index_put_({0, 0}, 2.0);  // red channel of the first image: (2 * 0.25 + 0.5) * 255 = 255
  auto rgb = xp::engine::batch_to_pixels(y, 1, norm);
  REQUIRE(rgb.size() == 1);
  CHECK(rgb[0].type() == CV_8UC3);
  CHECK(rgb[0].at<cv::Vec3b>(0, 0) == cv::Vec3b(255, 128, 128));
  // Not an image batch: nothing.
  CHECK(xp::engine::batch_to_pixels(torch::zeros({4, 16}), 8, std::nullopt).empty());
}
