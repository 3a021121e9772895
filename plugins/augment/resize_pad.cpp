// Deterministic size changes: resize and pad.
#include <algorithm>
#include <cmath>

#include "common.h"

namespace xp::augment {
namespace {

class Resize : public Augmentation {
 public:
  static Schema schema() {
    return Schema("Resizes to [height, width]; with one value, the shorter side becomes that size")
        .add_ints("size", {224, 224}, "[height, width], or [shorter_side] keeping the aspect ratio").min(1)
        .add_string("interpolation", "linear", "image interpolation (masks use nearest)")
        .choices(interpolation_choices());
  }
  explicit Resize(const Params& raw) {
    Params p = with_defaults(raw, schema());
    auto v = p.get_ints("size");
    if (v.empty() || v.size() > 2) fail(p, "'size' must be [height, width] or [shorter_side]");
    shorter_side_ = v.size() == 1 ? static_cast<int>(v[0]) : 0;
    if (!shorter_side_) size_ = size_param(p, "size");
    interpolation_ = interpolation(p.get_string("interpolation"));
  }
  void apply(Sample& s, Rng&) const override {
    cv::Size out = size_;
    if (shorter_side_) {
      const double k = static_cast<double>(shorter_side_) / std::min(s.image.rows, s.image.cols);
      out = cv::Size(std::max(1, static_cast<int>(std::lround(s.image.cols * k))),
                     std::max(1, static_cast<int>(std::lround(s.image.rows * k))));
    }
    resize_sample(s, out, interpolation_);
  }

 private:
  cv::Size size_;
  int shorter_side_ = 0;
  int interpolation_;
};

class Pad : public Augmentation {
 public:
  static Schema schema() {
    Schema s("Pads to at least `min_size` (centred) and/or by a fixed `amount` per side");
    s.add_ints("min_size", {0, 0}, "pad up to at least [height, width] (0 = no minimum)").min(0)
        .add_ints("amount", {0}, "extra pixels: [all], [vertical, horizontal] or [top, bottom, left, right]")
        .min(0);
    s.add_string("border_mode", "constant", "how padding is filled").choices(border_choices())
        .add_floats("fill", {0.0}, "image padding value(s) for border_mode = constant").range(0.0, 255.0)
        .add_int("mask_fill", 0, "mask padding value for border_mode = constant (255 = ignore)").range(0, 255);
    return s;
  }
  explicit Pad(const Params& raw) {
    Params p = with_defaults(raw, schema());
    auto m = p.get_ints("min_size");
    if (m.size() == 1) m.push_back(m[0]);
    if (m.size() != 2) fail(p, "'min_size' must be [height, width]");
    min_h_ = static_cast<int>(m[0]);
    min_w_ = static_cast<int>(m[1]);
    auto a = p.get_ints("amount");
    if (a.size() == 1) a = {a[0], a[0], a[0], a[0]};
    else if (a.size() == 2) a = {a[0], a[0], a[1], a[1]};
    else if (a.size() != 4) fail(p, "'amount' must have 1, 2 or 4 values");
    for (int i = 0; i < 4; ++i) amount_[i] = static_cast<int>(a[i]);
    border_.mode = border_mode(p.get_string("border_mode"));
    border_.fill = fill_scalar(p.get_floats("fill"));
    border_.mask_fill = static_cast<int>(p.get_int("mask_fill"));
  }
  void apply(Sample& s, Rng&) const override {
    const int dh = std::max(0, min_h_ - s.image.rows), dw = std::max(0, min_w_ - s.image.cols);
    pad_sample(s, amount_[0] + dh / 2, amount_[1] + dh - dh / 2, amount_[2] + dw / 2, amount_[3] + dw - dw / 2,
               border_);
  }

 private:
  int min_h_, min_w_;
  int amount_[4];
  Border border_;
};

}  // namespace
}  // namespace xp::augment

XP_REGISTER_AUGMENTATION("resize", xp::augment::Resize);
XP_REGISTER_AUGMENTATION("pad", xp::augment::Pad);
