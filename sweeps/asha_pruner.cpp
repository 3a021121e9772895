#include "asha_pruner.h"

#include <algorithm>
#include <cmath>

namespace xp::sweeps {

int64_t AshaPruner::rung_epoch(int64_t rung) const {
  int64_t e = min_epochs_;
  for (int64_t k = 0; k < rung; ++k) e *= reduction_factor_;
  return e;
}

std::optional<std::pair<int64_t, double>> AshaPruner::rung_value(const TrialRecord& trial, int64_t rung) const {
  auto it = trial.intermediate.lower_bound(rung_epoch(rung));
  if (it == trial.intermediate.end()) return std::nullopt;
  return *it;
}

bool AshaPruner::promotable(double value, std::vector<double> competing) const {
  if (!std::isfinite(value)) return false;
  auto promotable_index = static_cast<int64_t>(competing.size()) / reduction_factor_ - 1;
  if (promotable_index < 0) promotable_index = 0;  // too few to halve: only the best so far goes on
  std::sort(competing.begin(), competing.end());
  if (direction_ == Direction::Maximize)
    return value >= competing[competing.size() - 1 - static_cast<size_t>(promotable_index)];
  return value <= competing[static_cast<size_t>(promotable_index)];
}

bool AshaPruner::should_prune(const TrialRecord& trial, int64_t epoch, const std::vector<TrialRecord>& all) const {
  auto current = trial.intermediate.find(epoch);
  if (current == trial.intermediate.end()) return false;
  // The rung this epoch is the trial's arrival at, if any; other epochs are never decision points.
  for (int64_t rung = 0; rung_epoch(rung) <= epoch; ++rung) {
    auto arrival = rung_value(trial, rung);
    if (!arrival || arrival->first != epoch) continue;
    if (rung_epoch(rung + 1) <= epoch) continue;  // skipped past this rung; decided at the highest one
    std::vector<double> competing;
    for (const auto& t : all) {
      if (t.number == trial.number) continue;
      if (auto v = rung_value(t, rung); v && std::isfinite(v->second)) competing.push_back(v->second);
    }
    competing.push_back(arrival->second);
    return !promotable(arrival->second, competing);
  }
  return false;
}

}  // namespace xp::sweeps
