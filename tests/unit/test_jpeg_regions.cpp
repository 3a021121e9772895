// Lazy JPEG decoding (Split::load_lazy, xp::EncodedImage): a region's pixels equal the same
// region of OpenCV's full decode, for the JPEG flavours cameras write; random_resized_crop on an
// encoded sample gives exactly the eager result; files the region decoder must not take (EXIF
// rotation) are decoded eagerly; corrupt data is a BadSample the loader skips.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include <unistd.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "data/data_loader.h"
#include "test_classification_support.h"
#include "xp/errors.h"

using xp_test::make;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() / ("xp_test_jpeg_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// Photo-like content: smooth colour fields plus noise, so chroma upsampling matters at every edge.
cv::Mat photo(int h, int w, int seed) {
  cv::RNG rng(static_cast<uint64_t>(seed));
  cv::Mat small(h / 8 + 2, w / 8 + 2, CV_8UC3), big, noise(h, w, CV_8UC3);
  rng.fill(small, cv::RNG::UNIFORM, 0, 256);
  cv::resize(small, big, cv::Size(w, h), 0, 0, cv::INTER_CUBIC);
  rng.fill(noise, cv::RNG::UNIFORM, 0, 24);
  return big + noise;
}

cv::Mat opencv_rgb(const fs::path& file, int channels) {
  cv::Mat m = cv::imread(file.string(), channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
  if (channels == 3) cv::cvtColor(m, m, cv::COLOR_BGR2RGB);
  return m;
}

bool same_pixels(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size() || a.type() != b.type()) return false;
  return cv::norm(a, b, cv::NORM_INF) == 0;
}

std::shared_ptr<xp::Split> folder_split(const fs::path& root, int channels = 3, const std::string& scaled = "auto") {
  auto ds = make<xp::Dataset>("image_folder", {{"root", root.string()}, {"channels", channels}, {"val_fraction", 0.0},
                                               {"test_fraction", 0.0}, {"scaled_decode", scaled}});
  return ds->split("train");
}

double mean_abs_diff(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat d;
  cv::absdiff(a, b, d);
  const cv::Scalar m = cv::mean(d);
  return (m[0] + m[1] + m[2]) / 3.0;
}

void load_augment_plugins() {
  static const bool loaded = [] {
    xp_test::load_plugin_library("xp_augment");
    return true;
  }();
  (void)loaded;
}

}  // namespace

TEST_CASE("jpeg regions: every region equals OpenCV's full decode, baseline, progressive, restart markers, grey") {
  TempDir tmp;
  const cv::Mat img = photo(203, 157, 1);  // sizes that are not multiples of the 16-px MCU
  cv::Mat grey;
  cv::cvtColor(img, grey, cv::COLOR_BGR2GRAY);
  fs::create_directories(tmp.path / "a");
  REQUIRE(cv::imwrite((tmp.path / "a" / "420.jpg").string(), img, {cv::IMWRITE_JPEG_QUALITY, 90}));
  REQUIRE(cv::imwrite((tmp.path / "a" / "q100.jpg").string(), img, {cv::IMWRITE_JPEG_QUALITY, 100}));
  REQUIRE(cv::imwrite((tmp.path / "a" / "progressive.jpg").string(), img, {cv::IMWRITE_JPEG_PROGRESSIVE, 1}));
  REQUIRE(cv::imwrite((tmp.path / "a" / "restart.jpg").string(), img, {cv::IMWRITE_JPEG_RST_INTERVAL, 3}));
  REQUIRE(cv::imwrite((tmp.path / "a" / "grey.jpg").string(), grey));
  std::mt19937 gen(7);
  for (int channels : {3, 1}) {
    auto split = folder_split(tmp.path, channels);
    REQUIRE(split->size() == 5);
    for (size_t i = 0; i < split->size(); ++i) {
      xp::Sample lazy = split->load_lazy(i);
      INFO(lazy.source << ", channels " << channels);
      REQUIRE(lazy.encoded);
      CHECK(lazy.image.empty());
      CHECK(lazy.encoded->width() == 157);
      CHECK(lazy.encoded->height() == 203);
      const cv::Mat reference = opencv_rgb(lazy.source, channels);
      CHECK(same_pixels(lazy.encoded->decode(), reference));
      CHECK(same_pixels(split->load(i).image, reference));  // load() is the eager path of the same
      for (int r = 0; r < 40; ++r) {
        const int w = std::uniform_int_distribution<int>(1, 157)(gen), h = std::uniform_int_distribution<int>(1, 203)(gen);
        const cv::Rect roi(std::uniform_int_distribution<int>(0, 157 - w)(gen),
                           std::uniform_int_distribution<int>(0, 203 - h)(gen), w, h);
        INFO("region " << roi);
        CHECK(same_pixels(lazy.encoded->decode(roi), reference(roi)));
      }
      CHECK_THROWS_AS(lazy.encoded->decode(cv::Rect(150, 0, 20, 10)), std::invalid_argument);
    }
  }
}

TEST_CASE("jpeg regions: random_resized_crop on an encoded sample equals the eager pipeline") {
  load_augment_plugins();
  TempDir tmp;
  fs::create_directories(tmp.path / "a");
  for (int i = 0; i < 4; ++i)
    REQUIRE(cv::imwrite((tmp.path / "a" / (std::to_string(i) + ".jpg")).string(), photo(240 + 16 * i, 320, i)));
  auto split = folder_split(tmp.path);
  auto crop = make<xp::Augmentation>("random_resized_crop", {{"size", xp_test::ints({64, 80})}});
  CHECK(crop->reads_encoded());
  for (size_t i = 0; i < split->size(); ++i)
    for (uint64_t draw = 0; draw < 8; ++draw) {
      xp::Sample lazy = split->load_lazy(i), eager = split->load(i);
      REQUIRE(lazy.encoded);
      xp::Rng a(draw), b(draw);
      crop->apply(lazy, a);
      crop->apply(eager, b);
      CHECK_FALSE(lazy.encoded);
      CHECK(same_pixels(lazy.image, eager.image));
    }
  // Through the loader (decode before transforms that need pixels, hflip here): same batches as a
  // split that only offers eager loading.
  struct EagerOnly : xp::Split {
    std::shared_ptr<xp::Split> inner;
    size_t size() const override { return inner->size(); }
    xp::Sample load(size_t i) const override { return inner->load(i); }
  };
  auto eager = std::make_shared<EagerOnly>();
  eager->inner = split;
  std::vector<std::shared_ptr<xp::Augmentation>> pipeline{make<xp::Augmentation>("hflip"), crop};
  xp::data::LoaderOptions o;
  o.batch_size = 4;
  o.workers = 2;
  auto batch = [&](std::shared_ptr<const xp::Split> s, std::vector<std::shared_ptr<xp::Augmentation>> p) {
    xp::data::EpochLoader loader(s, std::move(p), o, 3, {0, 1, 2, 3});
    return loader.next()->input;
  };
  CHECK(torch::equal(batch(split, {crop}), batch(eager, {crop})));
  CHECK(torch::equal(batch(split, pipeline), batch(eager, pipeline)));
}

TEST_CASE("jpeg regions: scaled_decode decodes crops of at least twice the output at 1/2, 1/4, 1/8 scale") {
  TempDir tmp;
  fs::create_directories(tmp.path / "a");
  // A smooth photo (colour fields about 40 px across) and a busy one (8 px fields plus noise, 0-24).
  cv::Mat fields(480 / 40 + 2, 640 / 40 + 2, CV_8UC3), smooth;
  cv::RNG(7).fill(fields, cv::RNG::UNIFORM, 0, 256);
  cv::resize(fields, smooth, cv::Size(640, 480), 0, 0, cv::INTER_CUBIC);
  REQUIRE(cv::imwrite((tmp.path / "a" / "0_smooth.jpg").string(), smooth, {cv::IMWRITE_JPEG_QUALITY, 90}));
  REQUIRE(cv::imwrite((tmp.path / "a" / "1_busy.jpg").string(), photo(480, 640, 7), {cv::IMWRITE_JPEG_QUALITY, 90}));
  const auto full_split = folder_split(tmp.path, 3, "off"), scaled_split = folder_split(tmp.path, 3, "on");
  REQUIRE(full_split->size() == 2);
  // The default (auto, decoder = cpu) is the full-scale decode: pixels equal the eager pipeline's.
  CHECK(same_pixels(folder_split(tmp.path)->load_lazy(0).encoded->decode_resized(cv::Rect(0, 0, 640, 480), cv::Size(100, 80)),
                    full_split->load_lazy(0).encoded->decode_resized(cv::Rect(0, 0, 640, 480), cv::Size(100, 80))));
  struct Case {
    cv::Rect region;
    cv::Size size;
    int denominator;  // the scale it must be decoded at
  };
  const std::vector<Case> cases{
      {{8, 0, 632, 480}, {224, 224}, 2},   // 2.82 x 2.14
      {{101, 53, 300, 300}, {75, 75}, 4},  // 4 x 4
      {{37, 21, 600, 452}, {70, 56}, 8},   // 8.6 x 8.1
      {{13, 7, 430, 300}, {224, 160}, 1},  // 1.92 x 1.88: under twice the size, decoded whole
      {{50, 40, 500, 200}, {60, 120}, 1},  // 8.3 x 1.7: one direction is not enough
  };
  for (size_t image = 0; image < 2; ++image) {
    const bool busy = image == 1;
    const auto full = full_split->load_lazy(image).encoded, scaled = scaled_split->load_lazy(image).encoded;
    REQUIRE(full);
    REQUIRE(scaled);
    for (const Case& c : cases) {
      CAPTURE(busy);
      CAPTURE(c.denominator);
      const cv::Mat a = full->decode_resized(c.region, c.size), b = scaled->decode_resized(c.region, c.size);
      REQUIRE(b.size() == c.size);
      REQUIRE(b.type() == a.type());
      if (c.denominator == 1) {
        CHECK(same_pixels(a, b));
        continue;
      }
      // A scaled decode is a low-pass shrink in the DCT domain where the bilinear resize of the full
      // decode samples points; the anti-aliased reference for both is OpenCV's area resize of the
      // full decode. A crop off by a few source pixels, or a scale off by its factor, differs from
      // it by far more.
      cv::Mat area, shifted_area;
      cv::resize(full->decode(c.region), area, c.size, 0, 0, cv::INTER_AREA);
      auto away = [](int at, int length, int size) { return at >= 8 ? -8 : at + length + 8 <= size ? 8 : 0; };
      const cv::Rect shifted =
          c.region + cv::Point(away(c.region.x, c.region.width, 640), away(c.region.y, c.region.height, 480));
      cv::resize(full->decode(shifted), shifted_area, c.size, 0, 0, cv::INTER_AREA);
      const double to_area = mean_abs_diff(area, b), to_bilinear = mean_abs_diff(a, b);
      const double off = mean_abs_diff(area, shifted_area);
      MESSAGE(std::string(busy ? "busy" : "smooth") << " 1/" << c.denominator << ": mean |scaled - area resize| = " << to_area
                                         << ", |scaled - bilinear| = " << to_bilinear
                                         << ", |bilinear - area resize| = " << mean_abs_diff(area, a)
                                         << "; a crop 8 px away differs by " << off);
      CHECK(to_bilinear > 0.0);  // it did take the scaled path
      CHECK(off > 3 * to_area);
      if (!busy) {
        // Photo-like content: within a level or two of either full-scale resize.
        CHECK(to_area < 2.0);
        CHECK(to_bilinear < 3.0);
      }
    }
  }
}

TEST_CASE("jpeg regions: EXIF-rotated files decode eagerly (rotated as OpenCV does); corrupt data is a BadSample") {
  TempDir tmp;
  fs::create_directories(tmp.path / "a");
  const cv::Mat img = photo(48, 64, 3);
  std::vector<uchar> jpeg;
  REQUIRE(cv::imencode(".jpg", img, jpeg));
  // An APP1 Exif segment with Orientation = 6 (rotate 90 degrees clockwise) right after SOI.
  const std::vector<uchar> app1{0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0,
                                0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0};
  std::vector<uchar> rotated(jpeg.begin(), jpeg.begin() + 2);
  rotated.insert(rotated.end(), app1.begin(), app1.end());
  rotated.insert(rotated.end(), jpeg.begin() + 2, jpeg.end());
  std::ofstream(tmp.path / "a" / "1_rotated.jpg", std::ios::binary)
      .write(reinterpret_cast<const char*>(rotated.data()), static_cast<std::streamsize>(rotated.size()));
  // Entropy data cut short, end marker kept (so verify_end passes): libjpeg would fill grey.
  REQUIRE(cv::imencode(".jpg", photo(160, 64, 4), jpeg));
  std::vector<uchar> cut(jpeg.begin(), jpeg.begin() + static_cast<std::ptrdiff_t>(jpeg.size() * 2 / 3));
  cut.push_back(0xFF);
  cut.push_back(0xD9);
  std::ofstream(tmp.path / "a" / "2_cut.jpg", std::ios::binary)
      .write(reinterpret_cast<const char*>(cut.data()), static_cast<std::streamsize>(cut.size()));
  // A header that is not one.
  std::vector<uchar> bad{0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x03, 0x01, 0xFF, 0xD9};
  std::ofstream(tmp.path / "a" / "3_header.jpg", std::ios::binary)
      .write(reinterpret_cast<const char*>(bad.data()), static_cast<std::streamsize>(bad.size()));

  auto split = folder_split(tmp.path);
  REQUIRE(split->size() == 3);
  xp::Sample r = split->load_lazy(0);
  CHECK_FALSE(r.encoded);
  CHECK(r.image.rows == 64);  // rotated: 48x64 became 64x48
  CHECK(r.image.cols == 48);
  CHECK(same_pixels(r.image, opencv_rgb(r.source, 3)));

  xp::Sample c = split->load_lazy(1);
  REQUIRE(c.encoded);
  CHECK(c.encoded->decode(cv::Rect(0, 0, 8, 8)).rows == 8);  // the top rows are intact
  CHECK_THROWS_WITH_AS(c.encoded->decode(), doctest::Contains("truncated JPEG data"), xp::BadSample);
  CHECK_THROWS_AS(split->load(1), xp::BadSample);
  CHECK_THROWS_WITH_AS(split->load_lazy(2), doctest::Contains("corrupt JPEG header"), xp::BadSample);

  // The loader skips and reports both broken files, whichever stage finds them.
  xp::data::LoaderOptions o;
  o.batch_size = 3;
  o.workers = 2;
  xp::data::EpochLoader loader(split, {}, o, 0, {0, 1, 2});
  auto b = loader.next();
  REQUIRE(b);
  CHECK(b->size() == 1);
  CHECK(loader.skipped().size() == 2);
}

TEST_CASE("jpeg regions: decoder = nvjpeg decodes close to libjpeg, or is refused clearly") {
  TempDir tmp;
  fs::create_directories(tmp.path / "a");
  for (int i = 0; i < 3; ++i)
    REQUIRE(cv::imwrite((tmp.path / "a" / (std::to_string(i) + ".jpg")).string(), photo(120 + 8 * i, 160, 10 + i)));
  std::shared_ptr<xp::Dataset> gpu;
  try {
    gpu = make<xp::Dataset>("image_folder", {{"root", tmp.path.string()}, {"decoder", "nvjpeg"}, {"val_fraction", 0.0},
                                             {"test_fraction", 0.0}});
  } catch (const xp::ConfigError& e) {
    // A build without nvJPEG, or no CUDA device: say which and what to use instead.
    const std::string m = e.what();
    CHECK(m.find("decoder = \"nvjpeg\"") != std::string::npos);
    CHECK(m.find("use decoder = \"cpu\"") != std::string::npos);
    CHECK((m.find("no nvJPEG") != std::string::npos || m.find("CUDA device") != std::string::npos));
    return;
  }
  auto split = gpu->split("train"), cpu = folder_split(tmp.path);
  for (size_t i = 0; i < split->size(); ++i) {
    xp::Sample lazy = split->load_lazy(i);
    REQUIRE(lazy.encoded);
    const cv::Mat whole = lazy.encoded->decode(), reference = cpu->load(i).image;
    REQUIRE(whole.size() == reference.size());
    REQUIRE(whole.type() == reference.type());
    cv::Mat diff;
    cv::absdiff(whole, reference, diff);
    const double mean = cv::mean(diff.reshape(1))[0];
    // nvJPEG upsamples chroma and rounds its IDCT differently from libjpeg: on these noise-heavy
    // images the mean difference measured 6.5 levels (H200, CUDA 13). A wrong channel order or a
    // shifted region differs by tens of levels.
    MESSAGE(lazy.source << ": mean |nvjpeg - libjpeg| = " << mean);
    CHECK(mean < 10.0);
    const cv::Rect roi(17, 9, 101, 77);
    CHECK(same_pixels(lazy.encoded->decode(roi), whole(roi)));  // a region is cut from the same decode
  }
}
