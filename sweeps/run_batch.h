#pragma once
// `xp run FILE --launcher slurm`: the runs of an experiment (one per variant × seed) as a batch of
// leased work items in the registry, trained by the tasks of one Slurm job array. The batch is a
// sweep-store record (method "runs") whose trials are the planned runs, recorded as waiting rows
// when the job is submitted. Claiming, lease renewal, expiry and retries are therefore the sweep
// workers' (sql_sweep_store.h), not a second mechanism: an array task leases one planned run,
// trains it as a child `xp run`, renews the lease while it trains and records the outcome, so a
// requeued or resubmitted task never trains a (variant, seed) that is finished or being trained.
// docs/cluster.md has the user's view.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "sweep_store.h"

namespace xp::sweeps {

// The sweep-store method that marks a record as a batch of planned runs rather than a search.
inline constexpr const char* kRunBatchMethod = "runs";

struct PlannedRun {
  std::string variant;  // "" when the experiment has no variants
  int64_t seed = 0;
  std::string config_hash;  // RunSpec::hash: what the task checks before it trains
};

struct RunBatchPlan {
  std::string experiment;                 // [experiment] name
  std::filesystem::path experiment_file;  // absolute
  std::vector<PlannedRun> runs;
  std::filesystem::path registry;
  double lease_seconds = 60;
  int64_t max_retries = 2;
};

// "rb-" + 8 hex digits of sha256 over the experiment name and the planned runs (variant, seed,
// config hash): submitting the same experiment with the same options finds the same batch again.
std::string run_batch_id(const RunBatchPlan& plan);

// A batch's planned runs by state: queued (waiting), running (leased), finished (trained to the
// end), failed (the run failed, or its lease expired more often than retries allow), interrupted
// (stopped by a signal; requeued tasks and resubmissions take them up again).
struct RunBatchCounts {
  int64_t queued = 0, running = 0, finished = 0, failed = 0, interrupted = 0;
  int64_t total() const { return queued + running + finished + failed + interrupted; }
  bool active() const { return queued + running > 0; }
};
RunBatchCounts count_run_batch(const std::vector<TrialRecord>& items);
// "4 runs: 1 queued, 1 running, 2 finished" (states with no runs left out).
std::string describe(const RunBatchCounts& counts);

struct RunBatchSubmission {
  RunBatchPlan plan;
  // What every task runs: `xp run FILE` with the options that shape every run (--set, --tag,
  // --plugin-path), not --variant/--seeds (each planned run has its own).
  std::vector<std::string> task_command;
  int64_t parallel = 0;  // array tasks at once (%P); 0: all
  std::string sbatch_args;
  bool wait = false;  // follow the job until it leaves the queue
  double poll_seconds = 2.0;
};

// Records the batch (or finds it again and requeues its failed, crashed and interrupted runs),
// then submits one job array with a task per queued run; submits nothing when every planned run
// is finished or running. Returns the exit code (with wait: 0 when every run finished).
int submit_run_batch(const RunBatchSubmission& submission, std::ostream& out);

struct RunBatchTask {
  std::filesystem::path registry;
  std::string batch_id;
  std::vector<std::string> run_command;  // `xp run FILE [--set ..]`; the task adds --variant, --seeds, tags
  // The config hash this process resolves for (variant, seed), "" when the experiment has no such
  // run: a batch whose experiment file changed after submission fails its runs rather than
  // training something else under the old name.
  std::function<std::string(const std::string& variant, int64_t seed)> resolve_hash;
  std::string worker;  // default host:pid plus the Slurm task
  double poll_seconds = 1.0;
};

// One array task: leases one planned run and trains it. Returns 0 (also when nothing was left to
// lease), 1 when the run failed, 130/143 when stopped by a signal.
int run_batch_task(const RunBatchTask& task, std::ostream& log);

// Batches of planned runs in the registry (of `experiment`, every one when empty), oldest first.
struct RunBatchStatus {
  SweepRecord batch;
  std::vector<SweepJob> jobs;
  RunBatchCounts counts;
};
std::vector<RunBatchStatus> run_batches(const std::filesystem::path& registry, const std::string& experiment = {});

}  // namespace xp::sweeps
