#pragma once
#include <map>
#include <string>

#include "xp/model.h"
#include "xp/sample.h"

namespace xp {

// Hands a metric's accumulated state to the other ranks of a data-parallel evaluation. Each call
// replaces the values by their sum over all ranks (every rank calls the same sums in the same
// order, with the same sizes).
class MetricStateReducer {
 public:
  virtual ~MetricStateReducer() = default;
  virtual void sum(int64_t* values, size_t count) = 0;
  virtual void sum(double* values, size_t count) = 0;
  virtual void sum(torch::Tensor& tensor) = 0;  // any dtype and device; reduced in place
  virtual void max(int64_t* values, size_t count) = 0;  // e.g. to agree on a size before summing
  void sum(int64_t& value) { sum(&value, 1); }
  void sum(double& value) { sum(&value, 1); }
  void max(int64_t& value) { max(&value, 1); }
};

// Kind "metric": accumulates over an evaluation pass, then reports named values, e.g.
// {"top1": 0.93} or {"f1_macro": .., "f1_class_0": ..}. Names are prefixed by the split
// ("val_top1") by the host.
class Metric {
 public:
  static constexpr const char* kKind = "metric";
  virtual ~Metric() = default;
  virtual void reset() = 0;
  virtual void update(const ModelOutput& output, const Batch& batch) = 0;
  virtual std::map<std::string, double> compute() const = 0;

  // Distributed evaluation: each rank updated the metric on its part of the split; replace the
  // state by the whole split's (sum the counts, histograms, confusion matrices) and return true.
  // The default, false, says the state cannot be combined: the host then evaluates the whole
  // split on one rank instead, slower but exact.
  virtual bool reduce_state(MetricStateReducer& reducer) {
    (void)reducer;
    return false;
  }
};

}  // namespace xp
