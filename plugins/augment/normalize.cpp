// (v / max_pixel_value - mean) / std per channel, to CV_32F: the last per-sample step.
#include "common.h"

namespace xp::augment {
namespace {

class Normalize : public Augmentation {
 public:
  static Schema schema() {
    return Schema("Converts to float32: (v / max_pixel_value - mean) / std per channel (ImageNet defaults)")
        .add_floats("mean", {0.485, 0.456, 0.406}, "per-channel mean (one value is broadcast)").range(-1e6, 1e6)
        .add_floats("std", {0.229, 0.224, 0.225}, "per-channel standard deviation (one value is broadcast)")
        .range(1e-12, 1e6)
        .add_float("max_pixel_value", 255.0, "the value that maps to 1.0").range(1e-12, 1e12);
  }
  explicit Normalize(const Params& raw) {
    Params p = with_defaults(raw, schema());
    mean_ = p.get_floats("mean");
    std_ = p.get_floats("std");
    max_ = p.get_float("max_pixel_value");
    if (mean_.empty() || mean_.size() > 4) fail(p, "'mean' needs 1 to 4 values");
    if (std_.size() != mean_.size())
      fail(p, "'mean' and 'std' must have the same length, got " + std::to_string(mean_.size()) + " and " +
                  std::to_string(std_.size()));
  }
  void apply(Sample& s, Rng&) const override {
    const int c = s.image.channels();
    if (mean_.size() != 1 && static_cast<int>(mean_.size()) != c)
      throw std::runtime_error("normalize: mean/std have " + std::to_string(mean_.size()) +
                               " values but the image has " + std::to_string(c) + " channels");
    auto m = [&](int k) { return mean_.size() == 1 ? mean_[0] : mean_[k]; };
    auto sd = [&](int k) { return std_.size() == 1 ? std_[0] : std_[k]; };
    cv::Mat out(s.image.rows, s.image.cols, CV_32FC(c));
    if (s.image.depth() == CV_8U) {
      // One table per channel: 256 entries replace a multiply-add per pixel.
      std::vector<float> lut(256 * c);
      for (int k = 0; k < c; ++k)
        for (int v = 0; v < 256; ++v) lut[v * c + k] = static_cast<float>((v / max_ - m(k)) / sd(k));
      for (int r = 0; r < s.image.rows; ++r) {
        const uchar* in = s.image.ptr<uchar>(r);
        float* o = out.ptr<float>(r);
        for (int x = 0; x < s.image.cols; ++x, in += c, o += c)
          for (int k = 0; k < c; ++k) o[k] = lut[in[k] * c + k];
      }
    } else {
      cv::Mat f;
      s.image.convertTo(f, CV_32F);
      for (int r = 0; r < f.rows; ++r) {
        const float* in = f.ptr<float>(r);
        float* o = out.ptr<float>(r);
        for (int i = 0; i < f.cols * c; ++i)
          o[i] = static_cast<float>((in[i] / max_ - m(i % c)) / sd(i % c));
      }
    }
    s.image = out;
  }

 private:
  std::vector<double> mean_, std_;
  double max_;
};

}  // namespace
}  // namespace xp::augment

XP_REGISTER_AUGMENTATION("normalize", xp::augment::Normalize);
