#pragma once
// Exact, count-based accumulation of a confusion matrix (rows = true class, columns = predicted
// class = argmax of the logits), shared by the metrics derived from it.

#include <cstdint>
#include <vector>

#include <xp/model.h>
#include <xp/metric.h>
#include <xp/sample.h>

namespace xp::classification {

class ConfusionCounts {
 public:
  void reset() { classes_ = 0, counts_.clear(); }
  // Samples whose target is negative (unknown) are skipped.
  void update(const ModelOutput& output, const Batch& batch, const char* metric);
  int64_t classes() const { return classes_; }
  int64_t at(int64_t truth, int64_t predicted) const { return counts_[truth * classes_ + predicted]; }
  int64_t row_sum(int64_t truth) const;
  int64_t column_sum(int64_t predicted) const;
  int64_t total() const;
  // Sums the counts of all ranks (a rank that saw no sample has no class count yet).
  void reduce(MetricStateReducer& reducer);

 private:
  int64_t classes_ = 0;
  std::vector<int64_t> counts_;
};

// Checks that logits and targets line up, and returns the targets as a CPU int64 tensor.
torch::Tensor checked_targets(const ModelOutput& output, const Batch& batch, const char* metric);

}  // namespace xp::classification
