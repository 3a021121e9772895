#pragma once
#include <optional>

#include "pruner.h"

namespace xp::sweeps {

// Asynchronous successive halving (Li et al. 2020, as Optuna's SuccessiveHalvingPruner): rung k
// sits at epoch min_epochs * rf^k. A trial reaching a rung continues only if its value there is
// within the top 1/rf of every trial that has reached that rung so far (the best one while fewer
// than rf have). Decisions are never revisited: a promoted trial is not demoted later.
class AshaPruner : public Pruner {
 public:
  AshaPruner(Direction direction, int64_t min_epochs, int64_t reduction_factor)
      : direction_(direction), min_epochs_(min_epochs), reduction_factor_(reduction_factor) {}
  bool should_prune(const TrialRecord& trial, int64_t epoch, const std::vector<TrialRecord>& all) const override;

  int64_t rung_epoch(int64_t rung) const;
  // The value a trial has at a rung: its first reported epoch at or after the rung's epoch
  // (validation may not run every epoch). nullopt when it has not got that far.
  std::optional<std::pair<int64_t, double>> rung_value(const TrialRecord& trial, int64_t rung) const;
  bool promotable(double value, std::vector<double> competing) const;

 private:
  Direction direction_;
  int64_t min_epochs_, reduction_factor_;
};

}  // namespace xp::sweeps
