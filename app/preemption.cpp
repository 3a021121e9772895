#include "preemption.h"

#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>

#include "xp/base/atomic_file.h"

namespace xp::cli {
namespace {

std::atomic<bool> g_interrupted{false};
volatile sig_atomic_t g_signal = 0;

extern "C" void on_stop_signal(int sig) {
  if (g_signal == 0) g_signal = sig;
  g_interrupted.store(true);
  // A second Ctrl-C kills at once (the user means it). A second SIGTERM is ignored: the first is
  // already saving, and the cluster's SIGKILL follows after its grace period anyway.
  if (sig == SIGINT) ::signal(SIGINT, SIG_DFL);
}

}  // namespace

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // reads of the loader and the registry go on; the flag is polled
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

const std::atomic<bool>* interrupt_flag() { return &g_interrupted; }
bool stop_requested() { return g_interrupted.load(); }
bool stopped_by_sigterm() { return g_signal == SIGTERM; }
int stop_exit_code() { return g_signal ? 128 + g_signal : (g_interrupted ? 128 + SIGINT : 0); }

std::filesystem::path requeue_marker(const std::filesystem::path& registry_path) {
  const char* job = std::getenv("SLURM_JOB_ID");
  if (!job || !*job) return {};
  return std::filesystem::absolute(registry_path).parent_path() / "requeue" / job;
}

std::optional<RequeueMarker> read_requeue_marker(const std::filesystem::path& marker) {
  std::ifstream in(marker);
  RequeueMarker m;
  if (!(in >> m.run_id >> m.run_index)) return std::nullopt;
  return m;
}

void write_requeue_marker(const std::filesystem::path& marker, const RequeueMarker& m) {
  create_directories_or_throw(marker.parent_path(), "requeue folder");
  write_file_atomically(marker, m.run_id + "\n" + std::to_string(m.run_index) + "\n", "requeue marker");
}

std::string request_slurm_requeue() {
  const char* job = std::getenv("SLURM_JOB_ID");
  if (!job || !*job) return "not running under Slurm (SLURM_JOB_ID is not set)";
  for (const char* c = job; *c; ++c)
    if (*c < '0' || *c > '9') return "SLURM_JOB_ID '" + std::string(job) + "' is not a job number";
  const std::string command = "scontrol requeue " + std::string(job) + " 2>&1";
  const int status = std::system(command.c_str());
  if (status == -1) return "could not start scontrol";
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) return "scontrol was not found on PATH";
  return "`" + command.substr(0, command.size() - 5) + "` exited with status " +
         std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

}  // namespace xp::cli
