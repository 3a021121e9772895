// Colour transforms (image only): color_jitter, brightness_contrast, hue_saturation_value, gamma,
// to_gray, clahe.
#include <algorithm>
#include <array>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "common.h"
#include "ops.h"

namespace xp::augment {
namespace {

class ColorJitter : public Augmentation {
 public:
  static Schema schema() {
    return Schema("Random brightness, contrast, saturation and hue in random order (torchvision ColorJitter)")
        .add_float("brightness", 0.0, "factor drawn from [max(0, 1 - b), 1 + b]").range(0.0, 10.0)
        .add_float("contrast", 0.0, "factor drawn from [max(0, 1 - c), 1 + c]").range(0.0, 10.0)
        .add_float("saturation", 0.0, "factor drawn from [max(0, 1 - s), 1 + s]").range(0.0, 10.0)
        .add_float("hue", 0.0, "hue shift drawn from [-h, h] turns").range(0.0, 0.5);
  }
  explicit ColorJitter(const Params& raw) {
    Params p = with_defaults(raw, schema());
    b_ = p.get_float("brightness");
    c_ = p.get_float("contrast");
    s_ = p.get_float("saturation");
    h_ = p.get_float("hue");
  }
  void apply(Sample& sample, Rng& rng) const override {
    with_color_bands(sample, "color_jitter", [&](Sample& s) {
      std::array<int, 4> order{0, 1, 2, 3};
      for (int i = 3; i > 0; --i) std::swap(order[i], order[rng.integer(0, i)]);
      // Every factor is drawn even when its range is empty so the stream does not depend on settings.
      const double fb = rng.uniform(std::max(0.0, 1 - b_), 1 + b_), fc = rng.uniform(std::max(0.0, 1 - c_), 1 + c_);
      const double fs = rng.uniform(std::max(0.0, 1 - s_), 1 + s_), fh = rng.uniform(-h_, h_);
      for (int op : order) {
        if (op == 0 && b_ > 0) ops::brightness(s.image, fb);
        if (op == 1 && c_ > 0) ops::contrast(s.image, fc);
        if (op == 2 && s_ > 0) ops::saturation(s.image, fs);
        if (op == 3 && h_ > 0) ops::hue(s.image, fh);
      }
    });
  }

 private:
  double b_, c_, s_, h_;
};

class BrightnessContrast : public Augmentation {
 public:
  static Schema schema() {
    return Schema("out = v * (1 + c) + b * 255 with c, b drawn from the limits (albumentations RandomBrightnessContrast)")
        .add_floats("brightness_limit", {-0.2, 0.2}, "range of b, as a fraction of 255").range(-1.0, 1.0)
        .add_floats("contrast_limit", {-0.2, 0.2}, "range of c").range(-1.0, 10.0);
  }
  explicit BrightnessContrast(const Params& raw) {
    Params p = with_defaults(raw, schema());
    b_ = range_param(p, "brightness_limit");
    c_ = range_param(p, "contrast_limit");
  }
  void apply(Sample& sample, Rng& rng) const override {
    with_color_bands(sample, "brightness_contrast", [&](Sample& s) {
      const double alpha = 1.0 + rng.uniform(c_.first, c_.second);
      const double beta = 255.0 * rng.uniform(b_.first, b_.second);
      ops::apply_lut(s.image, ops::linear_lut(alpha, beta));
    });
  }

 private:
  std::pair<double, double> b_, c_;
};

class HueSaturationValue : public Augmentation {
 public:
  static Schema schema() {
    return Schema("Shifts hue (degrees), saturation and value (0..255 units) in HSV (albumentations HueSaturationValue)")
        .add_floats("hue_shift_limit", {-20.0, 20.0}, "hue shift range in degrees").range(-180.0, 180.0)
        .add_floats("sat_shift_limit", {-30.0, 30.0}, "saturation shift range").range(-255.0, 255.0)
        .add_floats("val_shift_limit", {-20.0, 20.0}, "value shift range").range(-255.0, 255.0);
  }
  explicit HueSaturationValue(const Params& raw) {
    Params p = with_defaults(raw, schema());
    h_ = range_param(p, "hue_shift_limit");
    s_ = range_param(p, "sat_shift_limit");
    v_ = range_param(p, "val_shift_limit");
  }
  void apply(Sample& sample, Rng& rng) const override {
    with_color_bands(sample, "hue_saturation_value", [&](Sample& s) {
      const double dh = rng.uniform(h_.first, h_.second), ds = rng.uniform(s_.first, s_.second);
      const double dv = rng.uniform(v_.first, v_.second);
      if (s.image.channels() != 3) {  // grey images only have a value channel
        ops::apply_lut(s.image, ops::linear_lut(1.0, dv));
        return;
      }
      // One 3-channel table: hue wraps around (HSV_FULL, 256 steps per turn), S and V saturate.
      cv::Mat lut(1, 256, CV_8UC3);
      const int hue_steps = static_cast<int>(std::lround(dh * 256.0 / 360.0));
      for (int v = 0; v < 256; ++v) {
        auto& e = lut.at<cv::Vec3b>(v);
        e[0] = static_cast<uchar>((v + hue_steps) & 255);
        e[1] = cv::saturate_cast<uchar>(v + ds);
        e[2] = cv::saturate_cast<uchar>(v + dv);
      }
      cv::Mat hsv;
      cv::cvtColor(s.image, hsv, cv::COLOR_RGB2HSV_FULL);
      cv::LUT(hsv, lut, hsv);
      cv::cvtColor(hsv, s.image, cv::COLOR_HSV2RGB_FULL);
    });
  }

 private:
  std::pair<double, double> h_, s_, v_;
};

class Gamma : public Augmentation {
 public:
  static Schema schema() {
    return Schema("Gamma curve 255 * (v / 255) ^ (g / 100), g drawn from gamma_limit (albumentations RandomGamma)")
        .add_floats("gamma_limit", {80.0, 120.0}, "range of 100 * gamma").range(1.0, 1000.0);
  }
  explicit Gamma(const Params& raw) {
    Params p = with_defaults(raw, schema());
    g_ = range_param(p, "gamma_limit");
  }
  void apply(Sample& sample, Rng& rng) const override {
    with_color_bands(sample, "gamma", [&](Sample& s) {
      ops::gamma(s.image, rng.uniform(g_.first, g_.second) / 100.0);
    });
  }

 private:
  std::pair<double, double> g_;
};

class ToGray : public Augmentation {
 public:
  static Schema schema() { return Schema("Converts to greyscale, keeping the number of channels"); }
  explicit ToGray(const Params&) {}
  void apply(Sample& sample, Rng&) const override {
    with_color_bands(sample, "to_gray", [&](Sample& s) {
      ops::to_gray(s.image);
    });
  }
};

class Clahe : public Augmentation {
 public:
  static Schema schema() {
    return Schema("Contrast-limited adaptive histogram equalisation on the lightness (L of Lab)")
        .add_floats("clip_limit", {1.0, 4.0}, "range of the contrast limit").range(0.01, 100.0)
        .add_ints("tile_grid_size", {8, 8}, "[rows, cols] of tiles").range(1, 256);
  }
  explicit Clahe(const Params& raw) {
    Params p = with_defaults(raw, schema());
    clip_ = range_param(p, "clip_limit");
    tiles_ = size_param(p, "tile_grid_size");
  }
  void apply(Sample& sample, Rng& rng) const override {
    with_color_bands(sample, "clahe", [&](Sample& s) {
      // A new CLAHE object per call: the OpenCV object is stateful and not safe to share across
      // loader threads.
      auto clahe = cv::createCLAHE(rng.uniform(clip_.first, clip_.second), tiles_);
      if (s.image.channels() == 1) {
        cv::Mat out;
        clahe->apply(s.image, out);
        s.image = out;
        return;
      }
      cv::Mat lab;
      cv::cvtColor(s.image, lab, cv::COLOR_RGB2Lab);
      std::vector<cv::Mat> planes;
      cv::split(lab, planes);
      clahe->apply(planes[0], planes[0]);
      cv::merge(planes, lab);
      cv::cvtColor(lab, s.image, cv::COLOR_Lab2RGB);
    });
  }

 private:
  std::pair<double, double> clip_;
  cv::Size tiles_;
};

}  // namespace
}  // namespace xp::augment

XP_REGISTER_AUGMENTATION("color_jitter", xp::augment::ColorJitter);
XP_REGISTER_AUGMENTATION("brightness_contrast", xp::augment::BrightnessContrast);
XP_REGISTER_AUGMENTATION("hue_saturation_value", xp::augment::HueSaturationValue);
XP_REGISTER_AUGMENTATION("gamma", xp::augment::Gamma);
XP_REGISTER_AUGMENTATION("to_gray", xp::augment::ToGray);
XP_REGISTER_AUGMENTATION("clahe", xp::augment::Clahe);
