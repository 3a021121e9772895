// Multi-class focal loss (Lin et al. 2017): -sum_k alpha_k (1 - p_k)^gamma q_k log p_k, averaged
// over the batch. Down-weights easy examples so rare, hard classes drive the gradient; with
// gamma = 0 and no alpha it is exactly cross-entropy.
#include <xp/plugin.h>

#include "class_targets.h"

namespace {

class Focal : public xp::Loss {
 public:
  static xp::Schema schema() {
    return xp::Schema("Multi-class focal loss on logits; honours soft targets (mixup/cutmix)")
        .tasks({"classification"})
        .add_float("gamma", 2.0, "focusing exponent (0 = cross-entropy)").range(0.0, 10.0)
        .add_floats("alpha", {}, "class weights: empty = none, one value = the same for all classes, "
                                 "else one per class").min(0.0)
        .add_string("reduction", "mean", "how to reduce over the batch").choices({"mean", "sum"});
  }

  explicit Focal(const xp::Params& p)
      : gamma_(p.get_float("gamma")), alpha_(p.get_floats("alpha")), mean_(p.get_string("reduction") == "mean") {}

  torch::Tensor forward(const xp::ModelOutput& output, const xp::Batch& batch) override {
    const torch::Tensor& logits = output.logits;
    const int64_t classes = logits.size(1);
    torch::Tensor q = xp::classification::target_distribution(batch, classes, "focal").to(logits.device());
    torch::Tensor log_p = torch::log_softmax(logits.to(torch::kFloat32), 1);
    // (1 - p)^gamma with gamma = 0 must be exactly 1, also where p rounds to 1.
    torch::Tensor modulator = gamma_ == 0.0 ? torch::ones_like(log_p) : (1.0 - log_p.exp()).clamp_min(0.0).pow(gamma_);
    torch::Tensor per_class = -modulator * q * log_p;
    torch::Tensor alpha = xp::classification::class_weights(alpha_, classes, "focal", "alpha");
    if (alpha.defined()) per_class = per_class * alpha.to(logits.device());
    torch::Tensor per_sample = per_class.sum(1);
    return mean_ ? per_sample.mean() : per_sample.sum();
  }

 private:
  double gamma_;
  std::vector<double> alpha_;
  bool mean_;
};

}  // namespace

XP_REGISTER_LOSS("focal", Focal);
