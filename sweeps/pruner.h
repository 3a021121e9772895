#pragma once
// Pruners stop unpromising trials early from their per-epoch metric. The worker feeds every new
// epoch of its running trial, in order, to should_prune together with the whole sweep's trials.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "trial.h"

namespace xp::sweeps {

class Pruner {
 public:
  virtual ~Pruner() = default;
  // `trial.intermediate` holds the trial's values up to and including `epoch`; `all` holds every
  // trial of the sweep (it may include `trial` itself; pruners match on the number).
  virtual bool should_prune(const TrialRecord& trial, int64_t epoch, const std::vector<TrialRecord>& all) const = 0;
};

struct PrunerOptions {
  std::string method = "none";  // none | asha | median
  std::string metric;           // per-epoch metric, e.g. "val_iou"
  Direction direction = Direction::Minimize;
  int64_t min_epochs = 1;        // asha: first rung; median: warmup epochs (never prune before)
  int64_t reduction_factor = 3;  // asha: keep the top 1/rf at each rung
  int64_t n_startup_trials = 5;  // median: completed trials needed before pruning
};

// nullptr for "none".
std::unique_ptr<Pruner> make_pruner(const PrunerOptions& options);
const std::vector<std::string>& pruner_methods();

}  // namespace xp::sweeps
