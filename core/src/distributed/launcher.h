#pragma once
// `xp run EXP --nproc-per-node N`: starts N ranks of the same program on this machine with the
// environment torchrun would set (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT, plus XP_LAUNCHED=1 so a rank does not launch again), and watches them: when a rank
// exits with an error or a signal, the others get SIGTERM, then SIGKILL after `grace`; the launcher
// reports which rank on which host failed and how. Torch-free.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace xp::distributed {

struct LaunchOptions {
  int nproc = 1;
  std::string program;            // path of the executable every rank runs
  std::vector<std::string> args;  // its arguments (without argv[0])
  std::string master_addr = "127.0.0.1";
  int master_port = 0;            // 0: MASTER_PORT from the environment, else a free port
  std::chrono::milliseconds grace{std::chrono::seconds(10)};
  // Stop the other ranks when one fails (the default). Off only to test that ranks notice alone.
  bool stop_on_failure = true;
  // Extra variables for rank r (e.g. CUDA_VISIBLE_DEVICES); may be empty.
  std::function<std::vector<std::pair<std::string, std::string>>(int rank)> extra_env;
};

struct RankExit {
  int rank = 0;
  int pid = 0;
  int exit_code = 0;  // valid when signal == 0
  int signal = 0;     // the signal that ended it, or 0
  bool stopped_by_launcher = false;
};

struct LaunchResult {
  std::vector<RankExit> ranks;
  int first_failed_rank = -1;  // -1 when all succeeded
  std::string message;         // "rank 1 (pid 1234 on host) was killed by signal 9 (Killed)", empty on success
  // The exit code `xp run` returns: 0, the first failed rank's own code, or 1 for a signal.
  int exit_code = 0;
};

// Blocks until every rank has ended. SIGTERM/SIGINT/SIGHUP received meanwhile are passed on to the ranks.
// Throws std::runtime_error (with the OS's reason) when a rank cannot be started.
LaunchResult launch_local_ranks(const LaunchOptions& options);

// A TCP port on 127.0.0.1 free right now (the OS picks it).
int free_local_port();

// The path of the running executable (/proc/self/exe).
std::string current_executable();

}  // namespace xp::distributed
