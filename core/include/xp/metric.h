#pragma once
#include <map>
#include <string>

#include "xp/model.h"
#include "xp/sample.h"

namespace xp {

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
};

}  // namespace xp
