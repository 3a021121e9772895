#pragma once
// `xp sweep worker ID`: on any machine that reaches the registry (a PostgreSQL URL for several
// machines), claims trials of a sweep one at a time and runs each as an ordinary
// `xp run` subprocess tagged sweep=ID, trial=N, attempt=K. While it runs, the worker renews the
// trial's lease, copies the pruning metric from the registry into the sweep store and stops the
// run (SIGINT to its process group: xp run saves and stops) when the pruner says so. The objective is the mean over the
// trial's runs of the summary metric. SIGINT/SIGTERM: the running trial is stopped and marked
// interrupted, so `xp sweep --resume` runs it again.

#include <filesystem>
#include <iosfwd>
#include <string>

namespace xp::sweeps {

struct WorkerOptions {
  std::filesystem::path registry;
  std::string sweep_id;
  std::filesystem::path xp_binary;  // the `xp` to run trials with (default: this binary)
  std::string name;                 // worker id in the store (default host:pid, plus the Slurm task)
  double poll_seconds = 1.0;
  int64_t max_trials = 0;           // leave after this many trials (0: while there is work); a Slurm
                                    // array task runs one
  double idle_wait_seconds = -1;    // with nothing to claim, wait this long for running trials of
                                    // other workers to come back (-1: as long as any is running)
};

// Returns the process exit code: 0 when the sweep has nothing left for it, 130 when interrupted.
int run_worker(const WorkerOptions& options, std::ostream& log);

// Folder for the sweep's trial logs: <registry folder>/sweeps/<id>.
std::filesystem::path sweep_log_dir(const std::filesystem::path& registry, const std::string& sweep_id);

}  // namespace xp::sweeps
