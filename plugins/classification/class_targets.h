#pragma once
// The target distribution a classification loss trains towards: batch.soft_target when a batch
// augmentation (mixup, cutmix) mixed the labels, the one-hot of batch.target otherwise.

#include <stdexcept>
#include <string>

#include <xp/sample.h>
#include <torch/types.h>

namespace xp::classification {

inline torch::Tensor target_distribution(const Batch& batch, int64_t num_classes, const std::string& loss) {
  if (batch.soft_target.defined()) {
    if (batch.soft_target.dim() != 2 || batch.soft_target.size(1) != num_classes)
      throw std::invalid_argument(loss + ": soft_target has " + std::to_string(batch.soft_target.size(-1)) +
                                  " classes but the logits have " + std::to_string(num_classes));
    return batch.soft_target.to(torch::kFloat32);
  }
  if (!batch.target.defined() || batch.target.dim() != 1)
    throw std::invalid_argument(loss + ": expects class indices [B] in batch.target");
  return torch::one_hot(batch.target.to(torch::kLong), num_classes).to(torch::kFloat32);
}

// Per-class weights from a schema list: [] = none, one value = the same for every class, else one
// per class (checked against the logits, which is when the class count is known).
inline torch::Tensor class_weights(const std::vector<double>& values, int64_t num_classes, const std::string& loss,
                                   const std::string& param) {
  if (values.empty()) return {};
  if (values.size() == 1) return torch::full({num_classes}, values[0], torch::kFloat32);
  if (static_cast<int64_t>(values.size()) != num_classes)
    throw std::invalid_argument(loss + ": " + param + " has " + std::to_string(values.size()) +
                                " entries but the model predicts " + std::to_string(num_classes) + " classes");
  std::vector<float> f(values.begin(), values.end());
  return torch::tensor(f);
}

}  // namespace xp::classification
