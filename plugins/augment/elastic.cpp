// Elastic deformation (Simard et al. 2003): a smooth random displacement field applied with remap.
#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "common.h"

namespace xp::augment {
namespace {

class Elastic : public Augmentation {
 public:
  static Schema schema() {
    Schema s("Elastic deformation: uniform noise smoothed by a Gaussian of `sigma`, scaled by `alpha` pixels");
    s.add_float("alpha", 34.0, "displacement scale in pixels").range(0.0, 10000.0)
        .add_float("sigma", 4.0, "smoothness of the field (Gaussian sigma in pixels)").range(0.1, 1000.0);
    return add_border_params(s, "reflect");
  }
  explicit Elastic(const Params& raw) {
    Params p = with_defaults(raw, schema());
    alpha_ = p.get_float("alpha");
    sigma_ = p.get_float("sigma");
    border_ = read_border(p);
  }

  void apply(Sample& s, Rng& rng) const override {
    const int h = s.image.rows, w = s.image.cols;
    // The field is smooth at scale sigma, so it is drawn on a grid about sigma/4 pixels apart and
    // upsampled: the same look as full resolution at a fraction of the blur cost for large sigma.
    const double step = std::max(1.0, sigma_ / 4.0);
    const int gh = std::max(2, static_cast<int>(std::ceil(h / step))), gw = std::max(2, static_cast<int>(std::ceil(w / step)));
    const double gsigma = sigma_ / step;
    cv::Mat dx(gh, gw, CV_32F), dy(gh, gw, CV_32F);
    for (int y = 0; y < gh; ++y)
      for (int x = 0; x < gw; ++x) {
        dx.at<float>(y, x) = static_cast<float>(rng.uniform(-1.0, 1.0));
        dy.at<float>(y, x) = static_cast<float>(rng.uniform(-1.0, 1.0));
      }
    cv::GaussianBlur(dx, dx, cv::Size(0, 0), gsigma, gsigma, cv::BORDER_REFLECT_101);
    cv::GaussianBlur(dy, dy, cv::Size(0, 0), gsigma, gsigma, cv::BORDER_REFLECT_101);
    if (gh != h || gw != w) {
      cv::resize(dx, dx, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
      cv::resize(dy, dy, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
    }
    cv::Mat map_x(h, w, CV_32F), map_y(h, w, CV_32F);
    const float a = static_cast<float>(alpha_);
    for (int y = 0; y < h; ++y) {
      const float* px = dx.ptr<float>(y);
      const float* py = dy.ptr<float>(y);
      float* mx = map_x.ptr<float>(y);
      float* my = map_y.ptr<float>(y);
      for (int x = 0; x < w; ++x) {
        mx[x] = static_cast<float>(x) + a * px[x];
        my[x] = static_cast<float>(y) + a * py[x];
      }
    }
    cv::Mat image;
    cv::remap(s.image, image, map_x, map_y, border_.interpolation, border_.mode, border_.fill);
    s.image = image;
    if (!s.mask.empty()) {
      cv::Mat mask;
      cv::remap(s.mask, mask, map_x, map_y, cv::INTER_NEAREST, border_.mode, cv::Scalar::all(border_.mask_fill));
      s.mask = mask;
    }
  }

 private:
  double alpha_, sigma_;
  Border border_;
};

}  // namespace
}  // namespace xp::augment

XP_REGISTER_AUGMENTATION("elastic", xp::augment::Elastic);
