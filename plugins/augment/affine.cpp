// Affine warps: rotate, affine (torchvision RandomAffine), shift_scale_rotate (albumentations).
#include "common.h"

namespace xp::augment {
namespace {

class Rotate : public Augmentation {
 public:
  static Schema schema() {
    Schema s("Rotates by an angle drawn from [-limit, limit] degrees about the centre");
    s.add_float("limit", 90.0, "largest rotation in degrees").range(0.0, 180.0);
    return add_border_params(s, "constant");
  }
  explicit Rotate(const Params& raw) {
    Params p = with_defaults(raw, schema());
    limit_ = p.get_float("limit");
    border_ = read_border(p);
  }
  void apply(Sample& s, Rng& rng) const override {
    const double angle = rng.uniform(-limit_, limit_);
    warp_affine(s, center_affine(s.image.size(), angle, 1.0, 0.0, 0.0, 0.0, 0.0), s.image.size(), border_);
  }

 private:
  double limit_;
  Border border_;
};

class Affine : public Augmentation {
 public:
  static Schema schema() {
    Schema s("Random rotation, translation, scale and shear in one warp (torchvision RandomAffine)");
    s.add_floats("degrees", {0.0, 0.0}, "rotation range in degrees").range(-180.0, 180.0)
        .add_floats("translate", {0.0, 0.0}, "largest shift as a fraction of [width, height]").range(0.0, 1.0)
        .add_floats("scale", {1.0, 1.0}, "scale range").range(0.01, 100.0)
        .add_floats("shear", {0.0, 0.0}, "x-shear range in degrees").range(-89.0, 89.0)
        .add_floats("shear_y", {0.0, 0.0}, "y-shear range in degrees").range(-89.0, 89.0);
    return add_border_params(s, "constant");
  }
  explicit Affine(const Params& raw) {
    Params p = with_defaults(raw, schema());
    degrees_ = range_param(p, "degrees");
    auto t = p.get_floats("translate");
    if (t.size() == 1) t.push_back(t[0]);
    if (t.size() != 2) fail(p, "'translate' must be [x_fraction, y_fraction]");
    tx_ = t[0];
    ty_ = t[1];
    scale_ = range_param(p, "scale");
    shear_ = range_param(p, "shear");
    shear_y_ = range_param(p, "shear_y");
    border_ = read_border(p);
  }
  void apply(Sample& s, Rng& rng) const override {
    // Fixed draw order (angle, shifts, scale, shears) keeps results reproducible across versions.
    const double angle = rng.uniform(degrees_.first, degrees_.second);
    const double dx = rng.uniform(-tx_, tx_) * s.image.cols, dy = rng.uniform(-ty_, ty_) * s.image.rows;
    const double scale = rng.uniform(scale_.first, scale_.second);
    const double shx = rng.uniform(shear_.first, shear_.second), shy = rng.uniform(shear_y_.first, shear_y_.second);
    warp_affine(s, center_affine(s.image.size(), angle, scale, shx, shy, dx, dy), s.image.size(), border_);
  }

 private:
  std::pair<double, double> degrees_, scale_, shear_, shear_y_;
  double tx_, ty_;
  Border border_;
};

class ShiftScaleRotate : public Augmentation {
 public:
  static Schema schema() {
    Schema s("Random shift, scale and rotation (albumentations ShiftScaleRotate)");
    s.add_float("shift_limit", 0.0625, "largest shift as a fraction of the side").range(0.0, 1.0)
        .add_float("scale_limit", 0.1, "scale drawn from [1 - limit, 1 + limit]").range(0.0, 0.99)
        .add_float("rotate_limit", 45.0, "rotation drawn from [-limit, limit] degrees").range(0.0, 180.0);
    return add_border_params(s, "reflect");
  }
  explicit ShiftScaleRotate(const Params& raw) {
    Params p = with_defaults(raw, schema());
    shift_ = p.get_float("shift_limit");
    scale_ = p.get_float("scale_limit");
    rotate_ = p.get_float("rotate_limit");
    border_ = read_border(p);
  }
  void apply(Sample& s, Rng& rng) const override {
    const double angle = rng.uniform(-rotate_, rotate_);
    const double scale = rng.uniform(1.0 - scale_, 1.0 + scale_);
    const double dx = rng.uniform(-shift_, shift_) * s.image.cols, dy = rng.uniform(-shift_, shift_) * s.image.rows;
    warp_affine(s, center_affine(s.image.size(), angle, scale, 0.0, 0.0, dx, dy), s.image.size(), border_);
  }

 private:
  double shift_, scale_, rotate_;
  Border border_;
};

}  // namespace
}  // namespace xp::augment

XP_REGISTER_AUGMENTATION("rotate", xp::augment::Rotate);
XP_REGISTER_AUGMENTATION("affine", xp::augment::Affine);
XP_REGISTER_AUGMENTATION("shift_scale_rotate", xp::augment::ShiftScaleRotate);
