// Lossless geometric transforms: flips and quarter turns.
#include <opencv2/core.hpp>

#include <xp/batch_decode.h>

#include "common.h"

namespace xp::augment {
namespace {

// cv::rotate transposes, which OpenCV implements for pixels of up to 32 bytes of supported sizes
// only (not 5 or 6 bytes): images of more than 4 bands turn band by band.
void rotate_bands(const cv::Mat& in, cv::Mat& out, int code) {
  if (in.channels() <= 4) {
    cv::rotate(in, out, code);
    return;
  }
  std::vector<cv::Mat> planes;
  cv::split(in, planes);
  for (auto& p : planes) {
    cv::Mat turned;
    cv::rotate(p, turned, code);
    p = turned;
  }
  cv::merge(planes, out);
}

void flip_sample(Sample& s, int code) {
  cv::Mat image;
  cv::flip(s.image, image, code);
  s.image = image;
  if (!s.mask.empty()) {
    cv::Mat mask;
    cv::flip(s.mask, mask, code);
    s.mask = mask;
  }
}

class HorizontalFlip : public Augmentation {
 public:
  static Schema schema() {
    return Schema("Mirrors left-right (image and mask)")
        .add_float("p", 0.5, "probability of flipping").range(0.0, 1.0);
  }
  explicit HorizontalFlip(const Params&) {}
  // A planned crop (xp/batch_decode.h) is mirrored in its plan; anything else is decoded first.
  bool reads_encoded() const override { return true; }
  void apply(Sample& s, Rng&) const override {
    if (s.image.empty() && s.encoded)
      if (const auto* planned = dynamic_cast<const PlannedCrop*>(s.encoded.get())) {
        s.encoded = planned->mirrored();
        return;
      }
    decode_pending(s);
    flip_sample(s, 1);
  }
};

class VerticalFlip : public Augmentation {
 public:
  static Schema schema() {
    return Schema("Mirrors top-bottom (image and mask)")
        .add_float("p", 0.5, "probability of flipping").range(0.0, 1.0);
  }
  explicit VerticalFlip(const Params&) {}
  void apply(Sample& s, Rng&) const override { flip_sample(s, 0); }
};

class Rotate90 : public Augmentation {
 public:
  static Schema schema() {
    return Schema("Turns by a random multiple of 90 degrees drawn from `turns` (image and mask)")
        .add_ints("turns", {0, 1, 2, 3}, "allowed counter-clockwise quarter turns").range(0, 3);
  }
  explicit Rotate90(const Params& raw) {
    Params p = with_defaults(raw, schema());
    turns_ = p.get_ints("turns");
    if (turns_.empty()) fail(p, "'turns' must name at least one quarter turn");
  }
  void apply(Sample& s, Rng& rng) const override {
    const int64_t k = turns_[static_cast<size_t>(rng.integer(0, static_cast<int64_t>(turns_.size()) - 1))];
    if (k == 0) return;
    const int code = k == 1 ? cv::ROTATE_90_COUNTERCLOCKWISE : k == 2 ? cv::ROTATE_180 : cv::ROTATE_90_CLOCKWISE;
    cv::Mat image;
    rotate_bands(s.image, image, code);
    s.image = image;
    if (!s.mask.empty()) {
      cv::Mat mask;
      cv::rotate(s.mask, mask, code);
      s.mask = mask;
    }
  }

 private:
  std::vector<int64_t> turns_;
};

}  // namespace
}  // namespace xp::augment

XP_REGISTER_AUGMENTATION("hflip", xp::augment::HorizontalFlip);
XP_REGISTER_AUGMENTATION("vflip", xp::augment::VerticalFlip);
XP_REGISTER_AUGMENTATION("rotate90", xp::augment::Rotate90);
