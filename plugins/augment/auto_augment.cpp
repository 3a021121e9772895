// Learned-policy-free automatic augmentation: rand_augment (Cubuk et al. 2020, torchvision's 14
// operations) and trivial_augment (TrivialAugmentWide, Müller & Hutter 2021). Geometric operations
// move the mask too.
#include <algorithm>
#include <cmath>

#include "common.h"
#include "ops.h"

namespace xp::augment {
namespace {

enum class Op {
  Identity, ShearX, ShearY, TranslateX, TranslateY, Rotate, Brightness, Color, Contrast, Sharpness,
  Posterize, Solarize, AutoContrast, Equalize
};
constexpr int kNumOps = 14;

// The largest magnitude of each operation (torchvision's augmentation spaces).
struct Space {
  double shear;            // shear factor (tan of the angle)
  double translate;        // fraction of the side (rand_augment) or pixels (trivial_augment)
  bool translate_pixels;
  double rotate;           // degrees
  double enhance;          // brightness/color/contrast/sharpness factor offset
  int posterize_min_bits;  // bits kept at full magnitude
};
constexpr Space kRandSpace{0.3, 150.0 / 331.0, false, 30.0, 0.9, 4};
constexpr Space kWideSpace{0.99, 32.0, true, 135.0, 0.99, 2};

bool is_signed(Op op) {
  return op == Op::ShearX || op == Op::ShearY || op == Op::TranslateX || op == Op::TranslateY || op == Op::Rotate ||
         op == Op::Brightness || op == Op::Color || op == Op::Contrast || op == Op::Sharpness;
}

// The colour half of the operations, on the colour bands.
void apply_color_op(cv::Mat& image, Op op, double level, double sign, const Space& space) {
  switch (op) {
    case Op::Brightness: ops::brightness(image, 1.0 + sign * space.enhance * level); break;
    case Op::Color: ops::saturation(image, 1.0 + sign * space.enhance * level); break;
    case Op::Contrast: ops::contrast(image, 1.0 + sign * space.enhance * level); break;
    case Op::Sharpness: ops::sharpness(image, 1.0 + sign * space.enhance * level); break;
    case Op::Posterize:
      ops::posterize(image, 8 - static_cast<int>(std::lround((8 - space.posterize_min_bits) * level)));
      break;
    case Op::Solarize: ops::solarize(image, 255.0 * (1.0 - level)); break;
    case Op::AutoContrast: ops::autocontrast(image); break;
    case Op::Equalize: ops::equalize(image); break;
    default: break;
  }
}

// `level` in [0, 1] is the fraction of the space's maximum.
void apply_op(Sample& s, Op op, double level, bool negate, const Space& space, const Border& border) {
  const double sign = negate ? -1.0 : 1.0;
  const cv::Size size = s.image.size();
  auto warp = [&](double angle, double shx, double shy, double tx, double ty) {
    warp_affine(s, center_affine(size, angle, 1.0, shx, shy, tx, ty), size, border);
  };
  auto shift = [&](int side) { return space.translate_pixels ? space.translate * level : space.translate * level * side; };
  switch (op) {
    case Op::Identity: break;
    case Op::ShearX: warp(0, std::atan(sign * space.shear * level) * 180.0 / CV_PI, 0, 0, 0); break;
    case Op::ShearY: warp(0, 0, std::atan(sign * space.shear * level) * 180.0 / CV_PI, 0, 0); break;
    case Op::TranslateX: warp(0, 0, 0, sign * shift(size.width), 0); break;
    case Op::TranslateY: warp(0, 0, 0, 0, sign * shift(size.height)); break;
    case Op::Rotate: warp(sign * space.rotate * level, 0, 0, 0, 0); break;
    default:
      // Colour operations: on the colour bands only (see with_color_bands).
      with_color_bands(s, "auto_augment", [&](Sample& c) { apply_color_op(c.image, op, level, sign, space); });
      break;
  }
}

Schema& add_fill_params(Schema& s) {
  return s.add_string("interpolation", "nearest", "image interpolation of the geometric operations")
      .choices(interpolation_choices())
      .add_floats("fill", {0.0}, "image fill value(s) uncovered by geometric operations").range(0.0, 255.0)
      .add_int("mask_fill", 0, "mask fill value uncovered by geometric operations (255 = ignore)").range(0, 255);
}
Border read_fill(const Params& p) {
  Border b;
  b.interpolation = interpolation(p.get_string("interpolation"));
  b.fill = fill_scalar(p.get_floats("fill"));
  b.mask_fill = static_cast<int>(p.get_int("mask_fill"));
  return b;
}

class RandAugment : public Augmentation {
 public:
  static Schema schema() {
    Schema s("RandAugment: `n` operations drawn uniformly from 14, each at magnitude `m` of 10");
    s.add_int("n", 2, "operations per image").range(0, 14)
        .add_float("m", 9.0, "magnitude on the 0-10 scale").range(0.0, 10.0)
        .add_float("m_std", 0.0, "std of Gaussian noise on m per operation (timm's mstd); 0 = fixed").range(0.0, 10.0);
    return add_fill_params(s);
  }
  explicit RandAugment(const Params& raw) {
    Params p = with_defaults(raw, schema());
    n_ = static_cast<int>(p.get_int("n"));
    m_ = p.get_float("m");
    m_std_ = p.get_float("m_std");
    border_ = read_fill(p);
  }
  void apply(Sample& s, Rng& rng) const override {
    require_u8(s, "rand_augment");
    for (int i = 0; i < n_; ++i) {
      const Op op = static_cast<Op>(rng.integer(0, kNumOps - 1));
      double m = m_;
      if (m_std_ > 0) m = std::clamp(rng.normal(m_, m_std_), 0.0, 10.0);
      const bool negate = rng.bernoulli(0.5);
      apply_op(s, op, m / 10.0, negate && is_signed(op), kRandSpace, border_);
    }
  }

 private:
  int n_;
  double m_, m_std_;
  Border border_;
};

class TrivialAugment : public Augmentation {
 public:
  static Schema schema() {
    Schema s("TrivialAugmentWide: one operation of 14 at a magnitude drawn from `num_magnitude_bins`");
    s.add_int("num_magnitude_bins", 31, "magnitudes are k / (bins - 1), k uniform").range(2, 1000);
    return add_fill_params(s);
  }
  explicit TrivialAugment(const Params& raw) {
    Params p = with_defaults(raw, schema());
    bins_ = static_cast<int>(p.get_int("num_magnitude_bins"));
    border_ = read_fill(p);
  }
  void apply(Sample& s, Rng& rng) const override {
    require_u8(s, "trivial_augment");
    const Op op = static_cast<Op>(rng.integer(0, kNumOps - 1));
    const double level = static_cast<double>(rng.integer(0, bins_ - 1)) / (bins_ - 1);
    const bool negate = rng.bernoulli(0.5);
    apply_op(s, op, level, negate && is_signed(op), kWideSpace, border_);
  }

 private:
  int bins_;
  Border border_;
};

}  // namespace
}  // namespace xp::augment

XP_REGISTER_AUGMENTATION("rand_augment", xp::augment::RandAugment);
XP_REGISTER_AUGMENTATION("trivial_augment", xp::augment::TrivialAugment);
