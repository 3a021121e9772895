#include "image_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <xp/errors.h>

#include "jpeg_image.h"
#include "nvjpeg_batch_stage.h"
#include "nvjpeg_decoder.h"

namespace xp::classification {

void DecodeOptions::add_to(Schema& schema) {
  schema.add_int("channels", 3, "decode as 3 = RGB or 1 = grey").choices({1, 3})
      .add_ints("resize", {0, 0}, "resize every image to [height, width] on load (0 = keep; needed when "
                                  "file sizes differ and no resize augmentation follows)").range(0, 16384)
      .add_bool("verify_end", true, "treat JPEG/PNG files without their end marker as corrupt (truncated "
                                    "downloads; OpenCV would decode them partly grey)")
      .add_string("decoder", "cpu", "JPEG decoding: cpu = libjpeg-turbo (crops decode only their region), nvjpeg = "
                                    "NVIDIA nvJPEG on the GPU per image, nvjpeg_batched = whole batches on the GPU's "
                                    "hardware JPEG decoder with the crop, flip and normalization on the GPU, shared "
                                    "with the CPU workers (builds that found nvJPEG, machines with CUDA)")
      .choices({"cpu", "nvjpeg", "nvjpeg_batched"})
      .add_float("gpu_share", -1.0, "decoder = nvjpeg_batched: the share of each batch the GPU decodes; -1 = tuned "
                                    "while loading from the measured speed of both sides").range(-1.0, 1.0);
}

DecodeOptions DecodeOptions::from(const Params& params) {
  DecodeOptions o;
  o.channels = static_cast<int>(params.get_int("channels"));
  auto size = params.get_ints("resize");
  if (size.size() != 2)
    throw std::invalid_argument("resize must be [height, width], got " + std::to_string(size.size()) + " values");
  if ((size[0] == 0) != (size[1] == 0))
    throw std::invalid_argument("resize must set both height and width, or neither (0, 0)");
  o.height = size[0];
  o.width = size[1];
  o.verify_end = params.get_bool("verify_end");
  const std::string decoder = params.get_string("decoder");
  o.nvjpeg = decoder == "nvjpeg";
  if (o.nvjpeg) {
    const std::string why = nvjpeg_unavailable_reason();
    if (!why.empty()) throw ConfigError("decoder = \"nvjpeg\": " + why + "; use decoder = \"cpu\"", params.where());
  }
  const double share = params.get_float("gpu_share");
  if (decoder != "nvjpeg_batched" && share >= 0.0)
    throw ConfigError("gpu_share applies to decoder = \"nvjpeg_batched\" (this dataset's decoder is \"" + decoder + "\")",
                      params.where());
  if (decoder == "nvjpeg_batched") {
    std::string why;
    o.stage = make_nvjpeg_batch_stage(share, why);
    if (!o.stage)
      throw ConfigError("decoder = \"nvjpeg_batched\": " + why + "; use decoder = \"cpu\"", params.where());
  }
  return o;
}

namespace {

std::vector<uchar> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw BadSample(path, std::string("cannot open: ") + std::strerror(errno));
  const std::streamoff size = in.tellg();
  if (size < 0) throw BadSample(path, "cannot read its size");
  in.seekg(0);
  std::vector<uchar> bytes(static_cast<size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size)) throw BadSample(path, "read error");
  return bytes;
}

bool ends_with_marker(const std::vector<uchar>& bytes, const std::vector<uchar>& marker, size_t tail) {
  // Writers may pad after the marker, so look for it near the end rather than exactly at it.
  auto from = bytes.size() > tail ? bytes.end() - static_cast<std::ptrdiff_t>(tail) : bytes.begin();
  return std::search(from, bytes.end(), marker.begin(), marker.end()) != bytes.end();
}

void verify_complete(const std::string& path, const std::vector<uchar>& bytes) {
  static const std::vector<uchar> kJpegStart{0xFF, 0xD8}, kJpegEnd{0xFF, 0xD9};
  static const std::vector<uchar> kPngStart{0x89, 'P', 'N', 'G'}, kPngEnd{'I', 'E', 'N', 'D'};
  auto starts_with = [&](const std::vector<uchar>& m) { return bytes.size() >= m.size() && std::equal(m.begin(), m.end(), bytes.begin()); };
  if (starts_with(kJpegStart) && !ends_with_marker(bytes, kJpegEnd, 1024))
    throw BadSample(path, "truncated JPEG (no end-of-image marker)");
  if (starts_with(kPngStart) && !ends_with_marker(bytes, kPngEnd, 64))
    throw BadSample(path, "truncated PNG (no IEND chunk)");
}

cv::Mat decode_bytes(const std::vector<uchar>& bytes, const std::string& path, const DecodeOptions& options) {
  cv::Mat image;
  try {
    image = cv::imdecode(bytes, options.channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
    if (image.empty()) throw BadSample(path, "not a decodable image (" + std::to_string(bytes.size()) + " bytes)");
    if (options.channels == 3) cv::cvtColor(image, image, cv::COLOR_BGR2RGB);
    if (options.height > 0 && (image.rows != options.height || image.cols != options.width))
      cv::resize(image, image, cv::Size(static_cast<int>(options.width), static_cast<int>(options.height)), 0, 0,
                 cv::INTER_AREA);
  } catch (const cv::Exception& e) {
    throw BadSample(path, std::string("OpenCV could not decode it: ") + e.what());
  }
  return image;
}

}  // namespace

cv::Mat decode_image_file(const std::string& path, const DecodeOptions& options) {
  std::vector<uchar> bytes = read_bytes(path);
  if (bytes.empty()) throw BadSample(path, "empty file (0 bytes)");
  if (options.verify_end) verify_complete(path, bytes);
  return decode_bytes(bytes, path, options);
}

Sample ImageFileSplit::load(size_t index) const {
  Sample s = load_lazy(index);
  decode_pending(s);
  return s;
}

Sample ImageFileSplit::load_lazy(size_t index) const {
  Sample s;
  s.source = paths_.at(index);
  s.label = labels_[index];
  s.index = static_cast<int64_t>(index);
  auto bytes = std::make_shared<std::vector<uchar>>(read_bytes(s.source));
  if (bytes->empty()) throw BadSample(s.source, "empty file (0 bytes)");
  if (options_.verify_end) verify_complete(s.source, *bytes);
  // JPEGs stay encoded for the transforms to decode what they keep; a resize on load needs them whole.
  if (options_.height == 0)
    if (auto jpeg = JpegImage::open(bytes, options_.channels, s.source, options_.nvjpeg, options_.stage)) {
      s.encoded = std::make_shared<JpegImage>(std::move(*jpeg));
      return s;
    }
  s.image = decode_bytes(*bytes, s.source, options_);
  return s;
}

}  // namespace xp::classification
