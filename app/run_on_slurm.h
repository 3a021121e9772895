#pragma once
// `xp run FILE --launcher slurm`: the experiment's runs (variant × seed) as one Slurm job array
// whose tasks lease them from the registry (sweeps/run_batch.h), and `--lease-from BATCH`, what
// each array task runs. Kept apart from cmd_run.cpp, which trains runs in this process.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "config/run_spec.h"
#include "options.h"

namespace xp::cli {

struct SlurmRunOptions {
  std::string file;  // the experiment file as given
  std::filesystem::path registry;
  int64_t parallel = 0;  // 0: every task at once
  std::string sbatch;
  bool wait = false;
};

// Records the batch of `specs` and submits its job array; returns the exit code.
int submit_runs_on_slurm(const std::vector<RunSpec>& specs, const po::variables_map& vm, const SlurmRunOptions& options);

// One array task: leases one planned run of `batch` and trains it in a child `xp run`.
int run_leased_run(const std::vector<RunSpec>& specs, const po::variables_map& vm, const SlurmRunOptions& options,
                   const std::string& batch);

// Tags a run started under Slurm carries: slurm_job (the array's job id for an array task) and
// slurm_array_task; empty outside Slurm.
std::map<std::string, std::string> slurm_tags();

}  // namespace xp::cli
