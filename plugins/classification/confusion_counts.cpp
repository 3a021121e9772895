#include "confusion_counts.h"

#include <stdexcept>
#include <string>

namespace xp::classification {

torch::Tensor checked_targets(const ModelOutput& output, const Batch& batch, const char* metric) {
  if (!output.logits.defined() || output.logits.dim() != 2)
    throw std::invalid_argument(std::string(metric) + ": expects logits [B, K]");
  if (!batch.target.defined() || batch.target.dim() != 1 || batch.target.size(0) != output.logits.size(0))
    throw std::invalid_argument(std::string(metric) + ": expects class indices [B] in batch.target matching the logits");
  return batch.target.to(torch::kCPU, torch::kLong).contiguous();
}

void ConfusionCounts::update(const ModelOutput& output, const Batch& batch, const char* metric) {
  torch::Tensor targets = checked_targets(output, batch, metric);
  torch::Tensor predicted = output.logits.argmax(1).to(torch::kCPU, torch::kLong).contiguous();
  const int64_t k = output.logits.size(1);
  if (classes_ == 0) {
    classes_ = k;
    counts_.assign(k * k, 0);
  } else if (k != classes_) {
    throw std::invalid_argument(std::string(metric) + ": logits changed from " + std::to_string(classes_) + " to " +
                                std::to_string(k) + " classes between batches");
  }
  const int64_t* t = targets.data_ptr<int64_t>();
  const int64_t* p = predicted.data_ptr<int64_t>();
  for (int64_t i = 0; i < targets.size(0); ++i) {
    if (t[i] < 0) continue;
    if (t[i] >= k)
      throw std::invalid_argument(std::string(metric) + ": target " + std::to_string(t[i]) + " but only " +
                                  std::to_string(k) + " classes");
    ++counts_[t[i] * k + p[i]];
  }
}

int64_t ConfusionCounts::row_sum(int64_t truth) const {
  int64_t s = 0;
  for (int64_t j = 0; j < classes_; ++j) s += at(truth, j);
  return s;
}

int64_t ConfusionCounts::column_sum(int64_t predicted) const {
  int64_t s = 0;
  for (int64_t i = 0; i < classes_; ++i) s += at(i, predicted);
  return s;
}

int64_t ConfusionCounts::total() const {
  int64_t s = 0;
  for (int64_t c : counts_) s += c;
  return s;
}

void ConfusionCounts::reduce(MetricStateReducer& reducer) {
  int64_t k = classes_;
  reducer.max(k);
  if (k != classes_) {  // this rank saw fewer classes (or none): widen the matrix first
    std::vector<int64_t> wider(static_cast<size_t>(k * k), 0);
    for (int64_t i = 0; i < classes_; ++i)
      for (int64_t j = 0; j < classes_; ++j) wider[static_cast<size_t>(i * k + j)] = at(i, j);
    counts_ = std::move(wider);
    classes_ = k;
  }
  if (!counts_.empty()) reducer.sum(counts_.data(), counts_.size());
}

}  // namespace xp::classification
