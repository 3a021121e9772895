#pragma once
// `xp sweep SWEEP.toml`: records the sweep in the store, then (launcher "local") keeps N worker processes
// (`xp sweep worker ID`) running while there is work, prints trials as they finish and the best
// one at the end. Ctrl-C stops the workers (their trials are marked interrupted) and leaves the
// sweep resumable with --resume ID.

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "xp/value.h"

namespace xp::sweeps {

struct SweepOptions {
  std::filesystem::path sweep_file;  // new sweep (ignored with resume_id)
  std::string resume_id;             // continue this sweep
  std::filesystem::path registry;
  std::optional<int64_t> workers;    // default: the sweep file's `workers`
  // "local": N worker processes here; "slurm": one job array of workers (sbatch); "none": record
  // the sweep only, workers are started by hand (`xp sweep worker ID`) on any machines.
  std::string launcher = "local";
  std::string sbatch_args;           // slurm: extra sbatch options
  bool wait = false;                 // slurm: follow the job until it leaves the queue
  std::filesystem::path xp_binary;   // default: this binary
  double poll_seconds = 1.0;
  // Checks a trial's overrides against the experiment before any worker starts (the CLI resolves
  // the experiment with them), so a misspelt key fails the sweep at once, not every trial.
  std::function<void(const std::vector<std::string>& sets)> check_overrides;
};

struct SweepConfig;

// The --set overrides of a trial: [sweep.fixed] then the trial's parameters, as KEY=TOML.
std::vector<std::string> trial_overrides(const SweepConfig& config, const std::map<std::string, Value>& params);
// Overrides that between them use every choice and both ends of every range (one dimension moved
// at a time from its lowest value): what check_overrides is called with.
std::vector<std::vector<std::string>> preflight_overrides(const SweepConfig& config);

// Returns the exit code: 0 done, 130 interrupted, 1 when no trial completed.
int run_sweep(const SweepOptions& options, std::ostream& out);

}  // namespace xp::sweeps
