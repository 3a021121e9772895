// Crops: random_resized_crop (Inception-style), center_crop, random_crop.
#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include <xp/batch_decode.h>

#include "common.h"

namespace xp::augment {
namespace {

class RandomResizedCrop : public Augmentation {
 public:
  static Schema schema() {
    return Schema("Crops a random area and aspect ratio, then resizes to `size` (torchvision RandomResizedCrop)")
        .add_ints("size", {224, 224}, "output [height, width]").min(1)
        .add_floats("scale", {0.08, 1.0}, "range of the crop's area as a fraction of the image").range(0.0, 1.0)
        .add_floats("ratio", {3.0 / 4.0, 4.0 / 3.0}, "range of the crop's aspect ratio (width / height)")
        .range(1e-3, 1e3)
        .add_string("interpolation", "linear", "image interpolation (masks use nearest)")
        .choices(interpolation_choices());
  }
  explicit RandomResizedCrop(const Params& raw) {
    Params p = with_defaults(raw, schema());
    size_ = size_param(p, "size");
    scale_ = range_param(p, "scale");
    ratio_ = range_param(p, "ratio");
    if (scale_.second <= 0) fail(p, "'scale' must allow a non-empty crop");
    interpolation_ = interpolation(p.get_string("interpolation"));
  }

  // A JPEG left encoded by its dataset is decoded only inside the crop (same pixels, less work).
  bool reads_encoded() const override { return true; }

  void apply(Sample& s, Rng& rng) const override {
    const bool encoded = s.image.empty() && s.encoded;
    const int h = encoded ? s.encoded->height() : s.image.rows, w = encoded ? s.encoded->width() : s.image.cols;
    const double area = static_cast<double>(h) * w;
    const double log_lo = std::log(ratio_.first), log_hi = std::log(ratio_.second);
    cv::Rect roi;
    bool found = false;
    for (int attempt = 0; attempt < 10 && !found; ++attempt) {
      const double target = area * rng.uniform(scale_.first, scale_.second);
      const double ratio = std::exp(rng.uniform(log_lo, log_hi));
      const int cw = static_cast<int>(std::lround(std::sqrt(target * ratio)));
      const int ch = static_cast<int>(std::lround(std::sqrt(target / ratio)));
      if (cw > 0 && ch > 0 && cw <= w && ch <= h) {
        const int y = static_cast<int>(rng.integer(0, h - ch));
        const int x = static_cast<int>(rng.integer(0, w - cw));
        roi = cv::Rect(x, y, cw, ch);
        found = true;
      }
    }
    if (!found) {  // fall back to the largest central crop with a ratio in range
      const double in_ratio = static_cast<double>(w) / h;
      int cw = w, ch = h;
      if (in_ratio < ratio_.first) ch = static_cast<int>(std::lround(w / ratio_.first));
      else if (in_ratio > ratio_.second) cw = static_cast<int>(std::lround(h * ratio_.second));
      cw = std::clamp(cw, 1, w);
      ch = std::clamp(ch, 1, h);
      roi = cv::Rect((w - cw) / 2, (h - ch) / 2, cw, ch);
    }
    // A source a batch stage can decode (decoder = "nvjpeg_batched"): only the plan is kept, and
    // the loader gives it to the GPU or decodes it here (xp/batch_decode.h); same crop either way.
    if (encoded && s.mask.empty() && interpolation_ == cv::INTER_LINEAR && s.encoded->batch_stage() &&
        !dynamic_cast<const PlannedCrop*>(s.encoded.get())) {
      s.encoded = std::make_shared<PlannedCrop>(s.encoded, CropPlan{roi, size_, false});
      return;
    }
    // Resize straight from the view: no intermediate copy of the crop. An encoded source resizes
    // its region itself (a JPEG may decode a large crop at a reduced scale: scaled_decode).
    cv::Mat image;
    if (encoded && interpolation_ == cv::INTER_LINEAR)
      image = s.encoded->decode_resized(roi, size_);
    else
      cv::resize(encoded ? s.encoded->decode(roi) : s.image(roi), image, size_, 0, 0, interpolation_);
    s.image = image;
    s.encoded.reset();
    if (!s.mask.empty()) {
      cv::Mat mask;
      cv::resize(s.mask(roi), mask, size_, 0, 0, cv::INTER_NEAREST);
      s.mask = mask;
    }
  }

 private:
  cv::Size size_;
  std::pair<double, double> scale_, ratio_;
  int interpolation_;
};

// Pads symmetrically (constant fill) so that the image is at least `size`.
void pad_to(Sample& s, cv::Size size, const Border& border) {
  const int dh = std::max(0, size.height - s.image.rows), dw = std::max(0, size.width - s.image.cols);
  pad_sample(s, dh / 2, dh - dh / 2, dw / 2, dw - dw / 2, border);
}

class CenterCrop : public Augmentation {
 public:
  static Schema schema() {
    return Schema("Crops the centre `size`; smaller images are padded with `fill` / `mask_fill` first")
        .add_ints("size", {224, 224}, "output [height, width]").min(1)
        .add_floats("fill", {0.0}, "image padding value(s)").range(0.0, 255.0)
        .add_int("mask_fill", 0, "mask padding value (255 = ignore)").range(0, 255);
  }
  explicit CenterCrop(const Params& raw) {
    Params p = with_defaults(raw, schema());
    size_ = size_param(p, "size");
    border_.fill = fill_scalar(p.get_floats("fill"));
    border_.mask_fill = static_cast<int>(p.get_int("mask_fill"));
  }
  void apply(Sample& s, Rng&) const override {
    pad_to(s, size_, border_);
    crop_sample(s, cv::Rect((s.image.cols - size_.width) / 2, (s.image.rows - size_.height) / 2, size_.width,
                            size_.height));
  }

 private:
  cv::Size size_;
  Border border_;
};

class RandomCrop : public Augmentation {
 public:
  static Schema schema() {
    Schema s("Crops a random `size` window, after optional padding on every side (torchvision RandomCrop)");
    s.add_ints("size", {224, 224}, "output [height, width]").min(1)
        .add_int("padding", 0, "pixels added on every side before cropping").range(0, 4096)
        .add_bool("pad_if_needed", true, "pad images smaller than `size` instead of failing");
    s.add_string("border_mode", "constant", "how padding is filled").choices(border_choices())
        .add_floats("fill", {0.0}, "image padding value(s) for border_mode = constant").range(0.0, 255.0)
        .add_int("mask_fill", 0, "mask padding value for border_mode = constant (255 = ignore)").range(0, 255);
    return s;
  }
  explicit RandomCrop(const Params& raw) {
    Params p = with_defaults(raw, schema());
    size_ = size_param(p, "size");
    padding_ = static_cast<int>(p.get_int("padding"));
    pad_if_needed_ = p.get_bool("pad_if_needed");
    border_.mode = border_mode(p.get_string("border_mode"));
    border_.fill = fill_scalar(p.get_floats("fill"));
    border_.mask_fill = static_cast<int>(p.get_int("mask_fill"));
  }
  void apply(Sample& s, Rng& rng) const override {
    pad_sample(s, padding_, padding_, padding_, padding_, border_);
    if (s.image.rows < size_.height || s.image.cols < size_.width) {
      if (!pad_if_needed_)
        throw std::runtime_error("random_crop: image " + std::to_string(s.image.rows) + "x" +
                                 std::to_string(s.image.cols) + " is smaller than the crop " +
                                 std::to_string(size_.height) + "x" + std::to_string(size_.width) +
                                 " (set pad_if_needed = true)");
      pad_to(s, size_, border_);
    }
    const int y = static_cast<int>(rng.integer(0, s.image.rows - size_.height));
    const int x = static_cast<int>(rng.integer(0, s.image.cols - size_.width));
    crop_sample(s, cv::Rect(x, y, size_.width, size_.height));
  }

 private:
  cv::Size size_;
  int padding_;
  bool pad_if_needed_;
  Border border_;
};

}  // namespace
}  // namespace xp::augment

XP_REGISTER_AUGMENTATION("random_resized_crop", xp::augment::RandomResizedCrop);
XP_REGISTER_AUGMENTATION("center_crop", xp::augment::CenterCrop);
XP_REGISTER_AUGMENTATION("random_crop", xp::augment::RandomCrop);
