// Sigmoid focal loss (Lin et al. 2017) for binary segmentation; `binary_` keeps it apart from the
// multi-class `focal` of the classification plugins.
#include "binary_seg_loss.h"

namespace xp::seg {
namespace {

class BinaryFocalLoss : public BinarySegLoss {
 public:
  static Schema schema() {
    Schema s("Binary focal loss -alpha_t (1 - p_t)^gamma log(p_t), mean over non-ignored pixels");
    s.add_float("gamma", 2.0, "focusing exponent (0 = alpha-weighted BCE)").range(0.0, 10.0)
        .add_float("alpha", 0.25, "weight of positives (negatives get 1 - alpha); -1 = no weighting")
        .range(-1.0, 1.0);
    return add_common(s);
  }
  explicit BinaryFocalLoss(const Params& p)
      : BinarySegLoss(p, "binary_focal"), gamma_(p.get_float("gamma")), alpha_(p.get_float("alpha")) {}

  torch::Tensor compute(const torch::Tensor& logits, const PreparedTarget& t) override {
    auto ce = bce_with_logits(logits, t.target);
    auto prob = torch::sigmoid(logits);
    // Written for soft targets too: p_t and alpha_t interpolate between the two classes.
    auto p_t = prob * t.target + (1.0 - prob) * (1.0 - t.target);
    auto loss = ce;
    // (1 - p_t)^gamma has an infinite slope at 0 for gamma < 1: keep the base off 0.
    if (gamma_ > 0.0) loss = loss * (1.0 - p_t).clamp_min(1e-12).pow(gamma_);
    if (alpha_ >= 0.0) loss = loss * (alpha_ * t.target + (1.0 - alpha_) * (1.0 - t.target));
    return weighted_mean(loss, t.weight);
  }

 private:
  double gamma_, alpha_;
};

}  // namespace
}  // namespace xp::seg

XP_REGISTER_LOSS("binary_focal", xp::seg::BinaryFocalLoss);
