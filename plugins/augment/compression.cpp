// Real JPEG round trip at a random quality (image only).
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common.h"

namespace xp::augment {
namespace {

class ImageCompression : public Augmentation {
 public:
  static Schema schema() {
    return Schema("Encodes and decodes the image as JPEG at a quality drawn from quality_range")
        .add_ints("quality_range", {60, 95}, "range of the JPEG quality").range(1, 100);
  }
  explicit ImageCompression(const Params& raw) {
    Params p = with_defaults(raw, schema());
    quality_ = int_range_param(p, "quality_range");
  }
  void apply(Sample& sample, Rng& rng) const override {
    with_color_bands(sample, "image_compression", [&](Sample& s) {
      const int c = s.image.channels();
      if (c != 1 && c != 3) throw std::runtime_error("image_compression: needs 1 or 3 channels, got " + std::to_string(c));
      const int quality = static_cast<int>(rng.integer(quality_.first, quality_.second));
      // The JPEG encoder expects BGR: swap so that luma and chroma are computed as for a photo.
      cv::Mat bgr;
      if (c == 3) cv::cvtColor(s.image, bgr, cv::COLOR_RGB2BGR);
      else bgr = s.image;
      std::vector<uchar> buffer;
      if (!cv::imencode(".jpg", bgr, buffer, {cv::IMWRITE_JPEG_QUALITY, quality}))
        throw std::runtime_error("image_compression: JPEG encoding failed");
      cv::Mat decoded = cv::imdecode(buffer, c == 3 ? cv::IMREAD_COLOR : cv::IMREAD_GRAYSCALE);
      if (decoded.empty()) throw std::runtime_error("image_compression: JPEG decoding failed");
      if (c == 3) cv::cvtColor(decoded, s.image, cv::COLOR_BGR2RGB);
      else s.image = decoded;
    });
  }

 private:
  std::pair<int64_t, int64_t> quality_;
};

}  // namespace
}  // namespace xp::augment

XP_REGISTER_AUGMENTATION("image_compression", xp::augment::ImageCompression);
