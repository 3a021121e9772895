// loss "smooth_ce": cross-entropy with label smoothing. Uses the batch's soft targets when a batch
// augmentation (mixup, cutmix) made them, as every classification loss must.
#include <torch/torch.h>

#include "xp/plugin.h"

namespace {

class SmoothCrossEntropy : public xp::Loss {
 public:
  static xp::Schema schema() {
    return xp::Schema("cross-entropy with label smoothing (Szegedy et al. 2016)")
        .add_float("smoothing", 0.1, "probability mass spread over all classes").range(0.0, 0.99)
        .add_string("reduction", "mean", "how to reduce over the batch").choices({"mean", "sum"});
  }
  explicit SmoothCrossEntropy(const xp::Params& p)
      : smoothing_(p.get_float("smoothing")), sum_(p.get_string("reduction") == "sum") {}

  torch::Tensor forward(const xp::ModelOutput& output, const xp::Batch& batch) override {
    const auto& logits = output.logits;
    const int64_t k = logits.size(1);
    torch::Tensor target = batch.soft_target.defined()
                               ? batch.soft_target
                               : torch::one_hot(batch.target, k).to(logits.scalar_type());
    target = target * (1.0 - smoothing_) + smoothing_ / static_cast<double>(k);
    auto per_sample = -(target * torch::log_softmax(logits, 1)).sum(1);
    return sum_ ? per_sample.sum() : per_sample.mean();
  }

 private:
  double smoothing_;
  bool sum_;
};

}  // namespace

XP_REGISTER_LOSS("smooth_ce", SmoothCrossEntropy);
