// Cross-entropy with label smoothing and class weights; soft targets (mixup/cutmix) give the
// soft-label cross-entropy -sum_k w_k q_k log p_k averaged over the batch.
#include <xp/plugin.h>

#include <torch/nn/functional/loss.h>

#include "class_targets.h"

namespace {

class CrossEntropy : public xp::Loss {
 public:
  static xp::Schema schema() {
    return xp::Schema("Cross-entropy on logits; honours soft targets (mixup/cutmix)")
        .tasks({"classification"})
        .add_float("label_smoothing", 0.0, "mix the target with the uniform distribution by this much").range(0.0, 0.99)
        .add_floats("weights", {}, "per-class weights (empty = all 1); hard targets average by the weights "
                                   "of the targets, as PyTorch does").min(0.0);
  }

  explicit CrossEntropy(const xp::Params& p)
      : smoothing_(p.get_float("label_smoothing")), weights_(p.get_floats("weights")) {}

  torch::Tensor forward(const xp::ModelOutput& output, const xp::Batch& batch) override {
    const torch::Tensor& logits = output.logits;
    const int64_t classes = logits.size(1);
    namespace F = torch::nn::functional;
    auto options = F::CrossEntropyFuncOptions().label_smoothing(smoothing_);
    torch::Tensor w = xp::classification::class_weights(weights_, classes, "cross_entropy", "weights");
    if (w.defined()) options.weight(w.to(logits.device()));
    if (batch.soft_target.defined())
      return F::cross_entropy(logits, xp::classification::target_distribution(batch, classes, "cross_entropy").to(logits.device()),
                              options);
    return F::cross_entropy(logits, batch.target.to(torch::kLong).to(logits.device()), options);
  }

 private:
  double smoothing_;
  std::vector<double> weights_;
};

}  // namespace

XP_REGISTER_LOSS("cross_entropy", CrossEntropy);
