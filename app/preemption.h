#pragma once
// Stopping a run cleanly when the user or the cluster asks: SIGINT (Ctrl-C) and SIGTERM (what
// Slurm, Kubernetes and systemd send before SIGKILL) set the trainer's interrupt flag, so the
// current step finishes, a checkpoint is written and the run is recorded `interrupted`. The exit
// code then says which signal it was: 130 for SIGINT, 143 for SIGTERM (128 + signal, as a shell
// reports a process killed by it).
//
// Requeueing (xp run --requeue-on-term, or XP_REQUEUE=1) under Slurm: on SIGTERM the interrupted
// run's id is written to <registry folder>/requeue/<SLURM_JOB_ID> and `scontrol requeue` is asked
// to put the job back in the queue; when the job starts again with the same command line, the
// same run is resumed instead of a new one being started, and the experiment's remaining runs follow.
// After each run the marker moves on to the next one, so a restarted job never trains a finished
// run again; it is removed when every run is done.

#include <atomic>
#include <filesystem>
#include <optional>
#include <string>

namespace xp::cli {

// Installs the SIGINT and SIGTERM handlers; the flag they set is interrupt_flag().
void install_stop_handlers();
const std::atomic<bool>* interrupt_flag();
bool stop_requested();
// 130 or 143 after a signal (see above); 0 when none arrived.
int stop_exit_code();
bool stopped_by_sigterm();

// Where a requeued Slurm job finds the run it should resume; empty outside Slurm.
std::filesystem::path requeue_marker(const std::filesystem::path& registry_path);

// The marker's run id when no run was in progress: the job restarts at `run_index`, afresh.
inline constexpr const char* kNoRun = "-";

struct RequeueMarker {
  std::string run_id;  // the interrupted run to resume, or kNoRun
  size_t run_index = 0;  // position of the run among the experiment's runs
};
std::optional<RequeueMarker> read_requeue_marker(const std::filesystem::path& marker);
void write_requeue_marker(const std::filesystem::path& marker, const RequeueMarker& m);

// Runs `scontrol requeue $SLURM_JOB_ID`; returns an empty string on success, else why it failed.
std::string request_slurm_requeue();

}  // namespace xp::cli
