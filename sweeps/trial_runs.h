#pragma once
// What the sweep reads back from the run registry about a trial's `xp run`: its runs (one per
// seed), their per-epoch values of the pruning metric and their summary values. The only file of
// the sweep engine that knows the registry. `xp run` has no --tag option, so a trial's runs are
// the ones its process (pid, this host, started after the spawn) began; they are then tagged
// sweep=ID, trial=N, attempt=K, so `xp runs --where "tags.sweep = 'ID'"` finds them.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace xp {
class RunRegistry;
}

namespace xp::sweeps {

struct TrialRun {
  std::string id, status, message;
  std::map<std::string, double> metrics;  // summary values and final per-epoch values
  std::map<int64_t, double> epochs;       // epoch -> value of the watched per-epoch metric
  double start_time = 0;
};

class TrialRuns {
 public:
  explicit TrialRuns(const std::filesystem::path& registry);
  ~TrialRuns();
  // Runs of one attempt of a trial (process `pid`, spawned at unix time `since`), oldest first;
  // `epoch_metric` selects the per-epoch values.
  std::vector<TrialRun> find(const std::string& sweep_id, int64_t trial, int64_t attempt, int64_t pid, double since,
                             const std::string& epoch_metric);
  // Records the sweep's verdict on runs the worker stopped (pruned, interrupted).
  void mark(const std::string& run_id, const std::string& status, const std::string& message);

 private:
  std::unique_ptr<RunRegistry> registry_;
};

}  // namespace xp::sweeps
