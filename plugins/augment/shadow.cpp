// Random polygonal shadows (image only), after albumentations RandomShadow.
#include <vector>

#include <opencv2/imgproc.hpp>

#include "common.h"
#include "ops.h"

namespace xp::augment {
namespace {

class RandomShadow : public Augmentation {
 public:
  static Schema schema() {
    return Schema("Darkens random polygons inside a region of interest (cast shadows)")
        .add_floats("shadow_roi", {0.0, 0.5, 1.0, 1.0}, "[x_min, y_min, x_max, y_max] as fractions of the image")
        .range(0.0, 1.0)
        .add_ints("num_shadows", {1, 2}, "range of the number of shadows").range(0, 32)
        .add_int("shadow_dimension", 5, "vertices per shadow polygon").range(3, 32)
        .add_floats("intensity", {0.4, 0.7}, "range of the brightness factor inside a shadow").range(0.0, 1.0);
  }
  explicit RandomShadow(const Params& raw) {
    Params p = with_defaults(raw, schema());
    roi_ = p.get_floats("shadow_roi");
    if (roi_.size() != 4 || roi_[0] >= roi_[2] || roi_[1] >= roi_[3])
      fail(p, "'shadow_roi' must be [x_min, y_min, x_max, y_max] with min < max");
    count_ = int_range_param(p, "num_shadows");
    vertices_ = static_cast<int>(p.get_int("shadow_dimension"));
    intensity_ = range_param(p, "intensity");
  }
  void apply(Sample& sample, Rng& rng) const override {
    with_color_bands(sample, "random_shadow", [&](Sample& s) {
      const int w = s.image.cols, h = s.image.rows;
      const int n = static_cast<int>(rng.integer(count_.first, count_.second));
      if (n > 0) s.image = s.image.clone();  // the input may share its pixels with a dataset cache
      for (int k = 0; k < n; ++k) {
        std::vector<cv::Point> polygon;
        for (int v = 0; v < vertices_; ++v)
          polygon.emplace_back(static_cast<int>(rng.uniform(roi_[0], roi_[2]) * (w - 1)),
                               static_cast<int>(rng.uniform(roi_[1], roi_[3]) * (h - 1)));
        const double factor = rng.uniform(intensity_.first, intensity_.second);
        cv::Mat region = cv::Mat::zeros(h, w, CV_8U);
        cv::fillPoly(region, std::vector<std::vector<cv::Point>>{polygon}, cv::Scalar(255));
        cv::Rect box = cv::boundingRect(polygon) & cv::Rect(0, 0, w, h);
        if (box.empty()) continue;
        // Only the polygon's bounding box is touched.
        cv::Mat darker;
        cv::LUT(s.image(box), ops::linear_lut(factor, 0.0), darker);
        darker.copyTo(s.image(box), region(box));
      }
    });
  }

 private:
  std::vector<double> roi_;
  std::pair<int64_t, int64_t> count_;
  int vertices_;
  std::pair<double, double> intensity_;
};

}  // namespace
}  // namespace xp::augment

XP_REGISTER_AUGMENTATION("random_shadow", xp::augment::RandomShadow);
