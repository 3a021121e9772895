#include "binary_seg_loss.h"

#include <torch/nn/functional/upsampling.h>

namespace xp::seg {

namespace F = torch::nn::functional;

Schema& BinarySegLoss::add_common(Schema& schema) {
  schema.tasks({"segmentation"});  // binary logits [B, 1, H, W] against a mask
  add_target_options(schema);
  return schema.add_float("ds_weight", 0.5, "weight of the deep-supervision outputs (aux ds_*), 0 = ignore them")
      .range(0.0, 10.0);
}

BinarySegLoss::BinarySegLoss(const Params& p, std::string name)
    : name_(std::move(name)), target_options_(target_options(p)), ds_weight_(p.get_float("ds_weight")) {}

torch::Tensor BinarySegLoss::forward(const ModelOutput& output, const Batch& batch) {
  check_binary_logits(output.logits, batch.target, "loss '" + name_ + "'");
  auto target = prepare_target(batch.target.to(output.logits.device()), target_options_);
  auto loss = compute(output.logits.to(torch::kFloat), target);
  if (ds_weight_ <= 0.0) return loss;

  std::vector<torch::Tensor> deep;
  for (const auto& [key, logits] : output.aux) {
    if (key.rfind("ds_", 0) != 0 || !logits.defined()) continue;
    auto x = resize_like(logits.to(torch::kFloat), target.target);
    check_binary_logits(x, batch.target, "loss '" + name_ + "' (aux output " + key + ")");
    deep.push_back(compute(x, target));
  }
  if (deep.empty()) return loss;
  return loss + ds_weight_ * torch::stack(deep).mean();
}

torch::Tensor resize_like(const torch::Tensor& logits, const torch::Tensor& target) {
  if (logits.dim() != 4 || target.dim() != 4) return logits;
  if (logits.size(2) == target.size(2) && logits.size(3) == target.size(3)) return logits;
  return F::interpolate(logits, F::InterpolateFuncOptions()
                                    .size(std::vector<int64_t>{target.size(2), target.size(3)})
                                    .mode(torch::kBilinear)
                                    .align_corners(false));
}

torch::Tensor weighted_mean(const torch::Tensor& values, const torch::Tensor& weight) {
  return (values * weight).sum() / weight.sum().clamp_min(1.0);
}

torch::Tensor bce_with_logits(const torch::Tensor& x, const torch::Tensor& t, double pos_weight) {
  // softplus(-x) = -log(sigmoid(x)), stable and with the right gradient at x = 0 (the
  // log1p(exp(-|x|)) + max(-x, 0) form has a zero subgradient there).
  auto log_sig_neg = torch::softplus(-x, 1.0, 20.0);
  if (pos_weight == 1.0) return (1.0 - t) * x + log_sig_neg;
  return (1.0 - t) * x + (1.0 + (pos_weight - 1.0) * t) * log_sig_neg;
}

}  // namespace xp::seg
