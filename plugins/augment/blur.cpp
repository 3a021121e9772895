// Blurs (image only): gaussian_blur, motion_blur.
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "common.h"

namespace xp::augment {
namespace {

// Odd kernel sizes in [lo, hi]; checked at construction.
std::pair<int, int> odd_sizes(const Params& p, const std::string& name) {
  auto [lo, hi] = int_range_param(p, name);
  const int first = static_cast<int>(lo % 2 ? lo : lo + 1), last = static_cast<int>(hi % 2 ? hi : hi - 1);
  if (first > last) fail(p, "'" + name + "' contains no odd kernel size, got " + p.get(name).to_string());
  return {first, last};
}
int draw_odd(Rng& rng, std::pair<int, int> r) {
  return 2 * static_cast<int>(rng.integer(r.first / 2, r.second / 2)) + 1;
}

class GaussianBlur : public Augmentation {
 public:
  static Schema schema() {
    return Schema("Gaussian blur with a random odd kernel size and sigma (torchvision GaussianBlur)")
        .add_ints("blur_limit", {3, 7}, "range of the kernel size (odd sizes are drawn)").range(1, 255)
        .add_floats("sigma_limit", {0.1, 2.0}, "range of sigma; 0 derives sigma from the kernel size")
        .range(0.0, 100.0);
  }
  explicit GaussianBlur(const Params& raw) {
    Params p = with_defaults(raw, schema());
    sizes_ = odd_sizes(p, "blur_limit");
    sigma_ = range_param(p, "sigma_limit");
  }
  void apply(Sample& sample, Rng& rng) const override {
    with_color_bands(sample, "gaussian_blur", [&](Sample& s) {
      const int k = draw_odd(rng, sizes_);
      const double sigma = rng.uniform(sigma_.first, sigma_.second);
      cv::Mat out;
      cv::GaussianBlur(s.image, out, cv::Size(k, k), sigma, sigma, cv::BORDER_REFLECT_101);
      s.image = out;
    });
  }

 private:
  std::pair<int, int> sizes_;
  std::pair<double, double> sigma_;
};

class MotionBlur : public Augmentation {
 public:
  static Schema schema() {
    return Schema("Blur along a random line through the centre of a random odd-sized kernel (camera shake)")
        .add_ints("blur_limit", {3, 7}, "range of the kernel size (odd sizes are drawn)").range(3, 255);
  }
  explicit MotionBlur(const Params& raw) {
    Params p = with_defaults(raw, schema());
    sizes_ = odd_sizes(p, "blur_limit");
  }
  void apply(Sample& sample, Rng& rng) const override {
    with_color_bands(sample, "motion_blur", [&](Sample& s) {
      const int k = draw_odd(rng, sizes_);
      const double angle = rng.uniform(0.0, CV_PI);
      const double r = (k - 1) / 2.0, c = r;
      cv::Mat kernel = cv::Mat::zeros(k, k, CV_32F);
      cv::Point a(static_cast<int>(std::lround(c - r * std::cos(angle))), static_cast<int>(std::lround(c - r * std::sin(angle))));
      cv::Point b(static_cast<int>(std::lround(c + r * std::cos(angle))), static_cast<int>(std::lround(c + r * std::sin(angle))));
      cv::line(kernel, a, b, cv::Scalar(1.0), 1, cv::LINE_8);
      kernel /= cv::sum(kernel)[0];
      cv::Mat out;
      cv::filter2D(s.image, out, -1, kernel, cv::Point(-1, -1), 0, cv::BORDER_REFLECT_101);
      s.image = out;
    });
  }

 private:
  std::pair<int, int> sizes_;
};

}  // namespace
}  // namespace xp::augment

XP_REGISTER_AUGMENTATION("gaussian_blur", xp::augment::GaussianBlur);
XP_REGISTER_AUGMENTATION("motion_blur", xp::augment::MotionBlur);
