#pragma once
// Slurm job arrays for sweeps (tasks are `xp sweep worker` processes) and for the runs of an
// experiment (`xp run --launcher slurm`, run_batch.h). Each task leases its work from the
// registry, so a resubmitted or requeued task never runs a trial or a run twice, and a task that
// dies leaves a lease that expires into a retry. docs/cluster.md has the user's view.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace xp::sweeps {

struct SlurmArrayRequest {
  std::string job_name;
  int64_t tasks = 1;     // array indices 0..tasks-1
  int64_t parallel = 1;  // at most this many at once (--array=0-N%P)
  std::vector<std::string> command;  // what every task runs
  std::string sbatch_args;           // extra sbatch options, e.g. "--gres=gpu:1 --time=2:00:00"
  std::filesystem::path log_dir;     // slurm-%A_%a.out and the batch script go here
};

// Writes the batch script and submits it with `sbatch --parsable`; returns the job id. Throws
// xp::ConfigError with sbatch's own message when it refuses (bad option, no such partition) or
// is not installed.
std::string submit_slurm_array(const SlurmArrayRequest& request);

// Array tasks of `job_id` Slurm still knows, by state: {"PENDING": 3, "RUNNING": 2}. Empty when
// the job has left the queue. Throws when squeue cannot run.
struct SlurmQueue {
  int64_t pending = 0, running = 0, other = 0;
  bool empty() const { return pending + running + other == 0; }
};
SlurmQueue slurm_queue(const std::string& job_id);

// "JOBID_TASK" when this process is a Slurm array task, "JOBID" in a plain job, else "".
std::string slurm_task_label();

// "a 'b c'" -> {"a", "b c"}: shell-like words (single and double quotes, backslash), for --sbatch.
std::vector<std::string> split_shell_words(const std::string& text);

// Runs argv, returns its exit code and its stdout+stderr. Exit code 127: not found.
struct CommandOutput {
  int exit_code = 0;
  std::string output;
};
CommandOutput run_command(const std::vector<std::string>& argv);

}  // namespace xp::sweeps
