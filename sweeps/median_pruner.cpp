#include "median_pruner.h"

#include <algorithm>
#include <cmath>

namespace xp::sweeps {

bool MedianPruner::should_prune(const TrialRecord& trial, int64_t epoch, const std::vector<TrialRecord>& all) const {
  if (epoch < warmup_epochs_) return false;
  auto current = trial.intermediate.find(epoch);
  if (current == trial.intermediate.end()) return false;
  int64_t completed = 0;
  std::vector<double> at_epoch;
  for (const auto& t : all) {
    if (t.number == trial.number || t.state != TrialState::Complete) continue;
    ++completed;
    auto it = t.intermediate.find(epoch);
    if (it != t.intermediate.end() && std::isfinite(it->second)) at_epoch.push_back(it->second);
  }
  if (completed < n_startup_trials_ || at_epoch.empty()) return false;

  double best = current->second;
  for (auto it = trial.intermediate.begin(); it != trial.intermediate.end() && it->first <= epoch; ++it)
    if (std::isfinite(it->second) && (!std::isfinite(best) || better(direction_, it->second, best))) best = it->second;
  if (!std::isfinite(best)) return true;  // diverged: nothing to continue for

  std::sort(at_epoch.begin(), at_epoch.end());
  const size_t n = at_epoch.size();
  double median = n % 2 ? at_epoch[n / 2] : 0.5 * (at_epoch[n / 2 - 1] + at_epoch[n / 2]);
  return better(direction_, median, best);
}

}  // namespace xp::sweeps
