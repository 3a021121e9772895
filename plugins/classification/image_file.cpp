#include "image_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <xp/base/suggest.h>
#include <xp/errors.h>
#include <xp/raster/band_set.h>

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
      .add_string("scaled_decode", "auto", "JPEG crops at least twice the output size decoded at 1/2, 1/4 or 1/8 scale "
                                           "in the DCT domain (faster; pixels a little smoother than a full decode + "
                                           "resize): on, off, or auto = on with decoder = nvjpeg_batched (whose batches "
                                           "already mix two decoders' pixels), off otherwise")
      .choices({"auto", "on", "off"})
      .add_float("gpu_share", -1.0, "decoder = nvjpeg_batched: the share of each batch the GPU decodes; -1 = tuned "
                                    "while loading from the measured speed of both sides").range(-1.0, 1.0)
      .add_strings("bands", {}, "bands of the image files to read, in order (N-band TIFFs; 8/16-bit kept), by "
                                "image_bands' names; empty = the image as `channels` says")
      .add_strings("image_bands", {}, "names of the image files' bands in file order; empty = gray / red,green,blue "
                                      "/ red,green,blue,alpha by band count, b1..bN otherwise");
}

int64_t DecodeOptions::channel_count() const {
  return bands ? static_cast<int64_t>(band_names.size()) : channels;
}

std::vector<std::string> DecodeOptions::channel_names() const { return band_names; }

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
  const std::string scaled = params.get_string("scaled_decode");
  if (scaled == "on" && decoder == "nvjpeg")
    throw ConfigError("scaled_decode = \"on\" applies to libjpeg-turbo's decoding; decoder = \"nvjpeg\" decodes whole "
                      "images on the GPU (use decoder = \"cpu\" or \"nvjpeg_batched\")",
                      params.where());
  o.scaled = scaled == "on" || (scaled == "auto" && decoder == "nvjpeg_batched");
  const double share = params.get_float("gpu_share");
  if (decoder != "nvjpeg_batched" && share >= 0.0)
    throw ConfigError("gpu_share applies to decoder = \"nvjpeg_batched\" (this dataset's decoder is \"" + decoder + "\")",
                      params.where());
  o.band_names = params.get_strings("bands");
  if (!o.band_names.empty()) {
    const auto& names = o.band_names;
    for (size_t i = 0; i < names.size(); ++i)
      if (std::find(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(i), names[i]) !=
          names.begin() + static_cast<std::ptrdiff_t>(i))
        throw ConfigError(params.plugin() + ": band '" + names[i] + "' is listed twice in bands", params.where());
    if (decoder != "cpu")
      throw ConfigError(params.plugin() + ": bands are read from TIFF/PNG files on the CPU; decoder = \"" + decoder +
                            "\" decodes JPEGs (use decoder = \"cpu\")",
                        params.where());
    auto set = std::make_shared<raster::BandSet>(names, params.get_strings("image_bands"));
    // Band files beside the images are segmentation_folder's; here every band is the image file's.
    const auto other = set->non_image_bands();
    if (!other.empty()) {
      std::vector<std::string> known = params.get_strings("image_bands");
      if (known.empty()) known = {"gray", "red", "green", "blue", "alpha", "b1", "b2", "b3", "b4"};
      throw ConfigError(params.plugin() + ": band '" + other.front() + "' is not a band of the image files (" +
                            (params.get_strings("image_bands").empty()
                                 ? std::string("without image_bands they are gray, red/green/blue[/alpha] or b1..bN")
                                 : "image_bands names them") +
                            ")" + did_you_mean(other.front(), known),
                        params.where());
    }
    o.bands = std::move(set);
  }
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

// The named bands of the file at its own depth (raster::BandSet), resized like any image.
cv::Mat decode_bands(const std::string& path, const DecodeOptions& options) {
  cv::Mat image = options.bands->load(path, {});
  if (options.height > 0 && (image.rows != options.height || image.cols != options.width)) {
    cv::Mat resized;
    cv::resize(image, resized, cv::Size(static_cast<int>(options.width), static_cast<int>(options.height)), 0, 0,
               cv::INTER_AREA);
    image = resized;
  }
  return image;
}

}  // namespace

cv::Mat decode_image_file(const std::string& path, const DecodeOptions& options) {
  std::vector<uchar> bytes = read_bytes(path);
  if (bytes.empty()) throw BadSample(path, "empty file (0 bytes)");
  if (options.verify_end) verify_complete(path, bytes);
  if (options.bands) return decode_bands(path, options);
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
  if (options_.bands) {
    s.image = decode_bands(s.source, options_);
    return s;
  }
  // JPEGs stay encoded for the transforms to decode what they keep; a resize on load needs them whole.
  if (options_.height == 0)
    if (auto jpeg = JpegImage::open(bytes, options_.channels, s.source, options_.nvjpeg, options_.stage, options_.scaled)) {
      s.encoded = std::make_shared<JpegImage>(std::move(*jpeg));
      return s;
    }
  s.image = decode_bytes(*bytes, s.source, options_);
  return s;
}

}  // namespace xp::classification
