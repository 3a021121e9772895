// Coarse dropout / random erasing: rectangular holes filled with a constant or noise.
#include <algorithm>
#include <cmath>

#include "common.h"

namespace xp::augment {
namespace {

class CoarseDropout : public Augmentation {
 public:
  static Schema schema() {
    return Schema("Erases random rectangles (albumentations CoarseDropout, torchvision RandomErasing)")
        .add_ints("num_holes", {1, 8}, "range of the number of holes").range(0, 1000)
        .add_floats("hole_height", {0.05, 0.2}, "range of a hole's height as a fraction of the image").range(0.0, 1.0)
        .add_floats("hole_width", {0.05, 0.2}, "range of a hole's width as a fraction of the image").range(0.0, 1.0)
        .add_string("fill_mode", "constant", "fill holes with `fill` or with uniform random values")
        .choices({"constant", "random"})
        .add_floats("fill", {0.0}, "hole value(s) for fill_mode = constant").range(0.0, 255.0)
        .add_int("mask_fill", -1, "mask value inside holes; -1 leaves the mask alone (255 = ignore)").range(-1, 255);
  }
  explicit CoarseDropout(const Params& raw) {
    Params p = with_defaults(raw, schema());
    holes_ = int_range_param(p, "num_holes");
    hh_ = range_param(p, "hole_height");
    hw_ = range_param(p, "hole_width");
    random_ = p.get_string("fill_mode") == "random";
    fill_ = fill_scalar(p.get_floats("fill"));
    mask_fill_ = static_cast<int>(p.get_int("mask_fill"));
  }
  void apply(Sample& s, Rng& rng) const override {
    require_u8(s, "coarse_dropout");
    const int w = s.image.cols, h = s.image.rows;
    const int n = static_cast<int>(rng.integer(holes_.first, holes_.second));
    // Holes are drawn into copies: the input may share its pixels with a dataset cache.
    if (n > 0) {
      s.image = s.image.clone();
      if (mask_fill_ >= 0 && !s.mask.empty()) s.mask = s.mask.clone();
    }
    for (int k = 0; k < n; ++k) {
      const int hh = std::clamp(static_cast<int>(std::lround(rng.uniform(hh_.first, hh_.second) * h)), 1, h);
      const int hw = std::clamp(static_cast<int>(std::lround(rng.uniform(hw_.first, hw_.second) * w)), 1, w);
      const int y = static_cast<int>(rng.integer(0, h - hh)), x = static_cast<int>(rng.integer(0, w - hw));
      cv::Mat hole = s.image(cv::Rect(x, y, hw, hh));
      if (random_) {
        for (int r = 0; r < hh; ++r) {
          uchar* q = hole.ptr<uchar>(r);
          for (int i = 0; i < hw * s.image.channels(); ++i) q[i] = static_cast<uchar>(rng.next() >> 56);
        }
      } else {
        hole.setTo(fill_);
      }
      if (mask_fill_ >= 0 && !s.mask.empty()) s.mask(cv::Rect(x, y, hw, hh)).setTo(cv::Scalar::all(mask_fill_));
    }
  }

 private:
  std::pair<int64_t, int64_t> holes_;
  std::pair<double, double> hh_, hw_;
  bool random_;
  cv::Scalar fill_;
  int mask_fill_;
};

}  // namespace
}  // namespace xp::augment

XP_REGISTER_AUGMENTATION("coarse_dropout", xp::augment::CoarseDropout);
