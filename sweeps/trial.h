#pragma once
// One trial of a sweep as samplers, pruners and stores see it: a point of the search space, the
// objective it reached (mean over its seeds) and the per-epoch values the pruner watches.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "xp/value.h"

namespace xp::sweeps {

// "loss.gamma" -> 2.5: one assignment of every dimension of the search space.
using ParamSet = std::map<std::string, Value>;

enum class Direction { Minimize, Maximize };
Direction parse_direction(const std::string& mode);  // "min" | "max"
const char* direction_name(Direction d);
// True when `a` is strictly better than `b` under `d`.
inline bool better(Direction d, double a, double b) { return d == Direction::Maximize ? a > b : a < b; }

// Waiting: queued (a retry after a lost lease, or an interrupted trial on resume).
// Crashed: its lease expired more often than the sweep allows retries.
enum class TrialState { Waiting, Running, Complete, Pruned, Failed, Crashed, Interrupted };
const char* trial_state_name(TrialState s);
TrialState parse_trial_state(const std::string& name);
inline bool is_finished(TrialState s) {
  return s == TrialState::Complete || s == TrialState::Pruned || s == TrialState::Failed || s == TrialState::Crashed;
}

struct TrialRecord {
  int64_t number = 0;  // 0-based, dense within a sweep; the grid sampler's index
  TrialState state = TrialState::Waiting;
  ParamSet params;
  std::optional<double> value;              // objective, set when Complete
  std::map<int64_t, double> intermediate;   // epoch -> pruning metric
  std::optional<int64_t> pruned_epoch;
  int64_t attempts = 0;                     // claims so far (1 + retries)
  std::string worker, message;
  std::vector<std::string> run_ids;         // registry runs of this trial, one per seed
  double started_at = 0, finished_at = 0;   // unix seconds
};

}  // namespace xp::sweeps
