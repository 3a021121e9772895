#pragma once
// Child processes of a sweep: workers (xp sweep worker) and trial runs (xp run). A trial run gets
// its own process group so the worker can stop it and everything it started with one signal.

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace xp::sweeps {

struct SpawnOptions {
  std::optional<std::filesystem::path> log;  // stdout and stderr go here (appended); else inherited
  bool new_process_group = false;
  int parent_death_signal = 0;  // Linux: sent to the child when its parent dies (no orphaned trials)
};

// fork + exec of argv[0] with argv; throws std::runtime_error when fork fails. exec failures
// show as exit code 127.
pid_t spawn(const std::vector<std::string>& argv, const SpawnOptions& options = {});

// waitpid without blocking: the exit code (128 + signal for a killed child) once it has exited.
std::optional<int> poll_exit(pid_t pid);
// Sends `sig` to the child (its whole group when it leads one), waits up to `grace_seconds`,
// then SIGKILLs it. Returns the exit code.
int stop_process(pid_t pid, int sig, double grace_seconds, bool group);

// The running binary, for re-executing ourselves (/proc/self/exe resolved).
std::filesystem::path self_executable();

// Set by SIGINT/SIGTERM once install_stop_handlers() ran; sleep_for_stop returns early on it.
void install_stop_handlers();
bool stop_requested();
int stop_signal();
void sleep_unless_stopped(double seconds);

}  // namespace xp::sweeps
