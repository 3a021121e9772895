// (clip(v) / max_pixel_value - mean) / std per band, to CV_32F: the last per-sample step.
//
// `stats = "train"` takes mean and std (and clip values) per band from the training split instead
// of the table: `xp run` computes them once before training, records them in the run folder
// (normalization_stats.json) and fills them in here, for training, evaluation, resume and predict
// alike (core/src/engine/normalization_stats.h).
#include <algorithm>
#include <limits>

#include "common.h"

namespace xp::augment {
namespace {

class Normalize : public Augmentation {
 public:
  static Schema schema() {
    return Schema("Converts to float32: (clip(v) / max_pixel_value - mean) / std per band (ImageNet defaults), "
                  "or with the training split's per-band statistics (stats = \"train\")")
        .add_floats("mean", {0.485, 0.456, 0.406}, "per-band mean (one value is broadcast)").range(-1e12, 1e12)
        .add_floats("std", {0.229, 0.224, 0.225}, "per-band standard deviation (one value is broadcast)")
        .range(1e-12, 1e12)
        .add_float("max_pixel_value", 255.0, "the value that maps to 1.0").range(1e-12, 1e12)
        .add_string("stats", "", "\"train\": mean/std per band computed once on the training split, recorded "
                                 "with the run and reused (mean, std, max_pixel_value are then ignored)")
        .choices({"", "train"})
        .add_floats("clip_percentiles", {}, "with stats = \"train\": [lo, hi] percentiles (e.g. [1, 99]) each "
                                            "band is clipped to before its statistics and at normalization")
        .add_floats("clip_low", {}, "per-band lower clip in pixel values (one value is broadcast; empty = none)")
        .add_floats("clip_high", {}, "per-band upper clip in pixel values (one value is broadcast; empty = none)");
  }
  explicit Normalize(const Params& raw) {
    Params p = with_defaults(raw, schema());
    if (p.get_string("stats") == "train")
      fail(p, "stats = \"train\" is resolved by `xp run` from the training split before the pipeline is built; "
              "this pipeline was built without it (a nested normalize? put it last in [[augment]])");
    mean_ = p.get_floats("mean");
    std_ = p.get_floats("std");
    max_ = p.get_float("max_pixel_value");
    clip_low_ = p.get_floats("clip_low");
    clip_high_ = p.get_floats("clip_high");
    if (mean_.empty()) fail(p, "'mean' needs at least one value");
    if (std_.size() != mean_.size())
      fail(p, "'mean' and 'std' must have the same length, got " + std::to_string(mean_.size()) + " and " +
                  std::to_string(std_.size()));
  }
  void apply(Sample& s, Rng&) const override {
    const int c = s.image.channels();
    auto per_band = [&](const std::vector<double>& v, const char* name) {
      if (v.size() > 1 && static_cast<int>(v.size()) != c)
        throw std::runtime_error(std::string("normalize: ") + name + " has " + std::to_string(v.size()) +
                                 " values but the image has " + std::to_string(c) + " bands (" + s.source + ")");
    };
    per_band(mean_, "mean");
    per_band(clip_low_, "clip_low");
    per_band(clip_high_, "clip_high");
    auto pick = [](const std::vector<double>& v, int k, double none) { return v.empty() ? none : v.size() == 1 ? v[0] : v[k]; };
    std::vector<double> lo(c), hi(c), scale(c), shift(c);
    for (int k = 0; k < c; ++k) {
      lo[k] = pick(clip_low_, k, -std::numeric_limits<double>::infinity());
      hi[k] = pick(clip_high_, k, std::numeric_limits<double>::infinity());
      scale[k] = 1.0 / (max_ * pick(std_, k, 1.0));
      shift[k] = -pick(mean_, k, 0.0) / pick(std_, k, 1.0);
    }
    cv::Mat out(s.image.rows, s.image.cols, CV_32FC(c));
    if (s.image.depth() == CV_8U) {
      // One table per band: 256 entries replace a clamp and multiply-add per pixel.
      std::vector<float> lut(256 * static_cast<size_t>(c));
      for (int k = 0; k < c; ++k)
        for (int v = 0; v < 256; ++v)
          lut[static_cast<size_t>(v) * c + k] = static_cast<float>(std::clamp<double>(v, lo[k], hi[k]) * scale[k] + shift[k]);
      for (int r = 0; r < s.image.rows; ++r) {
        const uchar* in = s.image.ptr<uchar>(r);
        float* o = out.ptr<float>(r);
        for (int x = 0; x < s.image.cols; ++x, in += c, o += c)
          for (int k = 0; k < c; ++k) o[k] = lut[static_cast<size_t>(in[k]) * c + k];
      }
    } else {
      cv::Mat f;  // 16-bit and float bands: exact in float32 up to 2^24
      s.image.convertTo(f, CV_32F);
      for (int r = 0; r < f.rows; ++r) {
        const float* in = f.ptr<float>(r);
        float* o = out.ptr<float>(r);
        for (int i = 0; i < f.cols * c; ++i) {
          const int k = i % c;
          o[i] = static_cast<float>(std::clamp<double>(in[i], lo[k], hi[k]) * scale[k] + shift[k]);
        }
      }
    }
    s.image = out;
  }

 private:
  std::vector<double> mean_, std_, clip_low_, clip_high_;
  double max_;
};

}  // namespace
}  // namespace xp::augment

XP_REGISTER_AUGMENTATION("normalize", xp::augment::Normalize);
