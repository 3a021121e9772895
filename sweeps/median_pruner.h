#pragma once
#include "pruner.h"

namespace xp::sweeps {

// Prunes a trial whose best value so far at epoch e is worse than the median of the completed
// trials' values at e. Inactive until n_startup_trials trials have completed and before
// warmup_epochs (Optuna's MedianPruner).
class MedianPruner : public Pruner {
 public:
  MedianPruner(Direction direction, int64_t n_startup_trials, int64_t warmup_epochs)
      : direction_(direction), n_startup_trials_(n_startup_trials), warmup_epochs_(warmup_epochs) {}
  bool should_prune(const TrialRecord& trial, int64_t epoch, const std::vector<TrialRecord>& all) const override;

 private:
  Direction direction_;
  int64_t n_startup_trials_, warmup_epochs_;
};

}  // namespace xp::sweeps
