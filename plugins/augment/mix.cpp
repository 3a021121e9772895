// Batch-level mixing: mixup (Zhang et al. 2018), cutmix (Yun et al. 2019) and the timm-style
// switch between them. Classification gets mixed soft targets; segmentation cutmix pastes the
// mask region with the image region.
#include <algorithm>
#include <cmath>
#include <numeric>

#include <torch/torch.h>

#include "common.h"

namespace xp::augment {
namespace {

bool is_segmentation(const Batch& b) { return b.target.defined() && b.target.dim() == 4; }

torch::Tensor random_permutation(int64_t n, Rng& rng) {
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  for (int64_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[rng.integer(0, i)]);
  return torch::tensor(perm, torch::kLong);
}

// The batch's labels as [B, K] probabilities: its soft_target when an earlier mix set one.
torch::Tensor soft_labels(const Batch& b, int64_t num_classes, const char* who) {
  if (b.soft_target.defined()) return b.soft_target;
  if (num_classes <= 0) throw std::runtime_error(std::string(who) + ": needs the number of classes (got " +
                                                 std::to_string(num_classes) + ")");
  if (!b.target.defined() || b.target.dim() != 1)
    throw std::runtime_error(std::string(who) + ": expects class targets [B] or segmentation targets [B, 1, H, W]");
  auto t = b.target.to(torch::kLong);
  if (t.numel() > 0 && (t.min().item<int64_t>() < 0 || t.max().item<int64_t>() >= num_classes))
    throw std::runtime_error(std::string(who) + ": a target lies outside [0, " + std::to_string(num_classes) + ")");
  return torch::one_hot(t, num_classes).to(torch::kFloat);
}

void check_batch(const Batch& b, const char* who) {
  if (!b.input.defined() || b.input.dim() != 4)
    throw std::runtime_error(std::string(who) + ": expects an input of shape [B, C, H, W]");
}

void mixup(Batch& b, int64_t num_classes, double alpha, Rng& rng) {
  check_batch(b, "mixup");
  if (is_segmentation(b))
    throw ConfigError("mixup is not defined for segmentation targets (blended masks are not labels); use cutmix");
  const double lam = rng.beta(alpha, alpha);
  auto perm = random_permutation(b.size(), rng).to(b.input.device());
  auto soft = soft_labels(b, num_classes, "mixup");
  b.input = b.input * lam + b.input.index_select(0, perm) * (1.0 - lam);
  b.soft_target = soft * lam + soft.index_select(0, perm.to(soft.device())) * (1.0 - lam);
}

void cutmix(Batch& b, int64_t num_classes, double alpha, Rng& rng) {
  check_batch(b, "cutmix");
  const double lam = rng.beta(alpha, alpha);
  auto perm = random_permutation(b.size(), rng).to(b.input.device());
  // A box of area (1 - lam) around a uniform centre, clipped to the image (in fractions, so
  // that a mask of another resolution gets the same region).
  const double cut = std::sqrt(1.0 - lam);
  const double cy = rng.uniform(), cx = rng.uniform();
  const double y0 = std::clamp(cy - cut / 2, 0.0, 1.0), y1 = std::clamp(cy + cut / 2, 0.0, 1.0);
  const double x0 = std::clamp(cx - cut / 2, 0.0, 1.0), x1 = std::clamp(cx + cut / 2, 0.0, 1.0);
  auto paste = [&](const torch::Tensor& t) {
    const int64_t h = t.size(2), w = t.size(3);
    const int64_t r0 = std::lround(y0 * h), r1 = std::lround(y1 * h), c0 = std::lround(x0 * w), c1 = std::lround(x1 * w);
    auto out = t.clone();
    if (r1 > r0 && c1 > c0) {
      using torch::indexing::Slice;
      out.index_put_({Slice(), Slice(), Slice(r0, r1), Slice(c0, c1)},
                     t.index_select(0, perm.to(t.device())).index({Slice(), Slice(), Slice(r0, r1), Slice(c0, c1)}));
    }
    return std::make_pair(out, static_cast<double>((r1 - r0) * (c1 - c0)) / static_cast<double>(h * w));
  };
  auto [input, area] = paste(b.input);
  b.input = input;
  if (is_segmentation(b)) {
    b.target = paste(b.target).first;
    return;
  }
  auto soft = soft_labels(b, num_classes, "cutmix");
  const double kept = 1.0 - area;  // the label weight follows the pixels actually pasted
  b.soft_target = soft * kept + soft.index_select(0, perm.to(soft.device())) * area;
}

class Mixup : public BatchAugmentation {
 public:
  static Schema schema() {
    return Schema("Blends pairs of images and their labels with lambda ~ Beta(alpha, alpha) (classification only)")
        .tasks({"classification"})
        .add_float("alpha", 0.2, "Beta distribution parameter").range(1e-3, 100.0)
        .add_float("p", 1.0, "probability of mixing a batch").range(0.0, 1.0);
  }
  explicit Mixup(const Params& raw) {
    Params p = with_defaults(raw, schema());
    alpha_ = p.get_float("alpha");
    p_ = p.get_float("p");
  }
  void apply(Batch& b, int64_t num_classes, Rng& rng) const override {
    if (rng.uniform() < p_) mixup(b, num_classes, alpha_, rng);
  }

 private:
  double alpha_, p_;
};

class CutMix : public BatchAugmentation {
 public:
  static Schema schema() {
    return Schema("Pastes a box from another image of the batch; labels mix by area, masks are pasted too")
        .tasks({"classification", "segmentation"})
        .add_float("alpha", 1.0, "Beta distribution parameter").range(1e-3, 100.0)
        .add_float("p", 1.0, "probability of mixing a batch").range(0.0, 1.0);
  }
  explicit CutMix(const Params& raw) {
    Params p = with_defaults(raw, schema());
    alpha_ = p.get_float("alpha");
    p_ = p.get_float("p");
  }
  void apply(Batch& b, int64_t num_classes, Rng& rng) const override {
    if (rng.uniform() < p_) cutmix(b, num_classes, alpha_, rng);
  }

 private:
  double alpha_, p_;
};

class MixupCutMix : public BatchAugmentation {
 public:
  static Schema schema() {
    return Schema("Per batch, cutmix with probability switch_prob, else mixup (timm Mixup)")
        .tasks({"classification", "segmentation"})  // segmentation batches always get cutmix
        .add_float("mixup_alpha", 0.2, "mixup Beta parameter").range(1e-3, 100.0)
        .add_float("cutmix_alpha", 1.0, "cutmix Beta parameter").range(1e-3, 100.0)
        .add_float("switch_prob", 0.5, "probability of cutmix instead of mixup").range(0.0, 1.0)
        .add_float("p", 1.0, "probability of mixing a batch").range(0.0, 1.0);
  }
  explicit MixupCutMix(const Params& raw) {
    Params p = with_defaults(raw, schema());
    mixup_alpha_ = p.get_float("mixup_alpha");
    cutmix_alpha_ = p.get_float("cutmix_alpha");
    switch_ = p.get_float("switch_prob");
    p_ = p.get_float("p");
  }
  void apply(Batch& b, int64_t num_classes, Rng& rng) const override {
    if (rng.uniform() >= p_) return;
    // Segmentation always takes cutmix: mixup has no meaning for hard masks.
    if (rng.uniform() < switch_ || is_segmentation(b)) cutmix(b, num_classes, cutmix_alpha_, rng);
    else mixup(b, num_classes, mixup_alpha_, rng);
  }

 private:
  double mixup_alpha_, cutmix_alpha_, switch_, p_;
};

}  // namespace
}  // namespace xp::augment

XP_REGISTER_BATCH_AUGMENTATION("mixup", xp::augment::Mixup);
XP_REGISTER_BATCH_AUGMENTATION("cutmix", xp::augment::CutMix);
XP_REGISTER_BATCH_AUGMENTATION("mixup_cutmix", xp::augment::MixupCutMix);
