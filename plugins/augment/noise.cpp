// Sensor noise (image only): gaussian_noise, iso_noise. Per-pixel normal draws come from the
// sample's Rng, four per 64-bit output through a quantile table (ops::normal_table).
#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "common.h"
#include "ops.h"

namespace xp::augment {
namespace {

// Fills `out` (CV_32F, any shape) with N(0, 1) draws.
void fill_normal(cv::Mat& out, Rng& rng) {
  const float* table = ops::normal_table();
  float* p = out.ptr<float>();
  const size_t n = out.total() * out.channels();
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    uint64_t r = rng.next();
    p[i] = table[r & 0xFFFF];
    p[i + 1] = table[(r >> 16) & 0xFFFF];
    p[i + 2] = table[(r >> 32) & 0xFFFF];
    p[i + 3] = table[r >> 48];
  }
  if (i < n) {
    uint64_t r = rng.next();
    for (; i < n; ++i, r >>= 16) p[i] = table[r & 0xFFFF];
  }
}

class GaussianNoise : public Augmentation {
 public:
  static Schema schema() {
    return Schema("Adds N(mean, var) noise, var drawn from var_limit in squared pixel units (albumentations GaussNoise)")
        .add_floats("var_limit", {10.0, 50.0}, "range of the variance").range(0.0, 65025.0)
        .add_float("mean", 0.0, "noise mean").range(-255.0, 255.0)
        .add_bool("per_channel", true, "independent noise per channel (false: the same for all channels)");
  }
  explicit GaussianNoise(const Params& raw) {
    Params p = with_defaults(raw, schema());
    var_ = range_param(p, "var_limit");
    mean_ = p.get_float("mean");
    per_channel_ = p.get_bool("per_channel");
  }
  void apply(Sample& sample, Rng& rng) const override {
    with_color_bands(sample, "gaussian_noise", [&](Sample& s) {
      const double sd = std::sqrt(rng.uniform(var_.first, var_.second));
      // Per image, a 4,096-entry table of integer offsets round(mean + sd * z) at the normal
      // quantiles; each 64-bit draw then yields five 12-bit table indices, and a pixel costs one
      // integer add and clamp. The quantiles reach +-3.5 sd, plenty for augmentation noise.
      int16_t offsets[4096];
      const float* z = ops::normal_table();
      for (int i = 0; i < 4096; ++i)
        offsets[i] = static_cast<int16_t>(std::clamp(std::lround(mean_ + sd * z[i * 16 + 8]), -255L, 255L));
      const int c = s.image.channels();
      // A new image: the input may share its pixels with a dataset cache.
      cv::Mat in = s.image.isContinuous() ? s.image : s.image.clone();
      cv::Mat out(in.size(), in.type());
      const uchar* src = in.ptr<uchar>();
      uchar* dst = out.ptr<uchar>();
      const size_t pixels = in.total();
      const size_t draws = per_channel_ ? pixels * c : pixels;
      std::vector<int16_t> noise(draws + 5);
      for (size_t i = 0; i < draws; i += 5) {
        uint64_t r = rng.next();
        for (int k = 0; k < 5; ++k, r >>= 12) noise[i + k] = offsets[r & 4095];
      }
      auto add = [](uchar v, int16_t n) { return static_cast<uchar>(std::clamp(v + n, 0, 255)); };
      if (per_channel_) {
        for (size_t i = 0; i < draws; ++i) dst[i] = add(src[i], noise[i]);
      } else {
        for (size_t i = 0; i < pixels; ++i)
          for (int k = 0; k < c; ++k) dst[i * c + k] = add(src[i * c + k], noise[i]);
      }
      s.image = out;
    });
  }

 private:
  std::pair<double, double> var_;
  double mean_;
  bool per_channel_;
};

class IsoNoise : public Augmentation {
 public:
  static Schema schema() {
    return Schema("Camera sensor noise: hue jitter and luminance shot noise in HLS (albumentations ISONoise)")
        .add_floats("color_shift", {0.01, 0.05}, "range of the hue noise scale (fraction of a turn)").range(0.0, 1.0)
        .add_floats("intensity", {0.1, 0.5}, "range of the overall noise strength").range(0.0, 10.0);
  }
  explicit IsoNoise(const Params& raw) {
    Params p = with_defaults(raw, schema());
    shift_ = range_param(p, "color_shift");
    intensity_ = range_param(p, "intensity");
  }
  void apply(Sample& sample, Rng& rng) const override {
    with_color_bands(sample, "iso_noise", [&](Sample& s) {
      const double shift = rng.uniform(shift_.first, shift_.second);
      const double intensity = rng.uniform(intensity_.first, intensity_.second);
      const bool color = s.image.channels() == 3;
      cv::Mat hls;
      if (color) cv::cvtColor(s.image, hls, cv::COLOR_RGB2HLS_FULL);
      else hls = s.image.clone();
      const int c = hls.channels(), lum = color ? 1 : 0;
      cv::Scalar mean, stddev;
      cv::meanStdDev(hls, mean, stddev);
      // Shot noise is Poisson(lambda) with lambda = std(L) * intensity; for the lambdas that occur
      // (tens) a normal with the same mean and variance is indistinguishable and much cheaper.
      const float lambda = static_cast<float>(stddev[lum] * intensity);
      const float lambda_sd = std::sqrt(std::max(lambda, 0.0f));
      const float hue_sd = static_cast<float>(shift * 256.0 * intensity);
      cv::Mat noise(hls.rows, hls.cols, CV_32FC2);
      fill_normal(noise, rng);
      const float* nz = noise.ptr<float>();
      uchar* px = hls.ptr<uchar>();
      const size_t pixels = hls.total();
      for (size_t i = 0; i < pixels; ++i) {
        uchar* q = px + i * c;
        const float shot = std::max(0.0f, lambda + lambda_sd * nz[2 * i]);
        const float l = q[lum];
        q[lum] = cv::saturate_cast<uchar>(l + shot * (255.0f - l) / 255.0f);
        if (color) q[0] = static_cast<uchar>(static_cast<int>(std::lround(q[0] + hue_sd * nz[2 * i + 1])) & 255);
      }
      if (color) cv::cvtColor(hls, s.image, cv::COLOR_HLS2RGB_FULL);
      else s.image = hls;
    });
  }

 private:
  std::pair<double, double> shift_, intensity_;
};

}  // namespace
}  // namespace xp::augment

XP_REGISTER_AUGMENTATION("gaussian_noise", xp::augment::GaussianNoise);
XP_REGISTER_AUGMENTATION("iso_noise", xp::augment::IsoNoise);
