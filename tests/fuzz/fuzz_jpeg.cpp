// Fuzz target: the libjpeg-turbo region decoder of the image datasets (plugins/classification/
// jpeg_image). A file either is declined (nullopt: not a JPEG this decoder takes), or decodes, or
// is refused with xp::BadSample, which the loader skips and counts. The first bytes choose the
// channels and the region, so regions at every offset are decoded, whole and (scaled_decode) shrunk
// to a fraction of their size at a reduced DCT scale.
#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "jpeg_image.h"
#include "xp/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  const int channels = data[0] & 1 ? 3 : 1;
  const uint8_t rx = data[1], ry = data[2], rw = data[3], rh = data[4];
  auto bytes = std::make_shared<const std::vector<unsigned char>>(data + 5, data + size);
  try {
    auto image = xp::classification::JpegImage::open(bytes, channels, "fuzz.jpg", false, nullptr, /*scaled=*/true);
    if (!image) return 0;
    const int w = image->width(), h = image->height();
    // Bombs (a tiny file that declares 65535 x 65535) are the dataset's to refuse; keep the fuzzer fast.
    if (static_cast<int64_t>(w) * h > 4096 * 4096) return 0;
    const int x = rx % w, y = ry % h;
    const cv::Rect region(x, y, 1 + rw % (w - x), 1 + rh % (h - y));
    cv::Mat part = image->decode(region);
    if (part.cols != region.width || part.rows != region.height || part.channels() != channels) __builtin_trap();
    // A reduced-scale decode when the region is at least twice the output (1/2, 1/4 or 1/8 by data[0]).
    const int shrink = 2 << ((data[0] >> 1) % 3);
    const cv::Size small(std::max(1, region.width / shrink), std::max(1, region.height / shrink));
    cv::Mat scaled = image->decode_resized(region, small);
    if (scaled.size() != small || scaled.channels() != channels) __builtin_trap();
    if (static_cast<int64_t>(w) * h <= 512 * 512) {
      cv::Mat whole = image->decode();
      if (whole.cols != w || whole.rows != h) __builtin_trap();
    }
  } catch (const xp::BadSample&) {
  }
  return 0;
}
