#include "distributed/launcher.h"

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <thread>

#include "distributed/world.h"

extern char** environ;

namespace xp::distributed {

namespace {

std::atomic<int> g_forward_signal{0};
extern "C" void remember_signal(int sig) { g_forward_signal.store(sig); }

std::string os_error(const std::string& what, int err) { return what + ": " + std::strerror(err); }

std::vector<std::string> child_environment(const LaunchOptions& o, int rank, int port) {
  const std::map<std::string, std::string> set = {
      {"RANK", std::to_string(rank)},          {"LOCAL_RANK", std::to_string(rank)},
      {"WORLD_SIZE", std::to_string(o.nproc)}, {"LOCAL_WORLD_SIZE", std::to_string(o.nproc)},
      {"MASTER_ADDR", o.master_addr},          {"MASTER_PORT", std::to_string(port)},
      {"XP_LAUNCHED", "1"}};
  std::map<std::string, std::string> extra;
  if (o.extra_env)
    for (auto& [k, v] : o.extra_env(rank)) extra[k] = v;
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    const std::string key = kv.substr(0, kv.find('='));
    // Slurm's names would make a rank think it is part of the allocation's world.
    if (set.count(key) || extra.count(key) || key.rfind("SLURM_PROCID", 0) == 0) continue;
    env.push_back(kv);
  }
  for (const auto& [k, v] : set) env.push_back(k + "=" + v);
  for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
  return env;
}

std::string describe_exit(const RankExit& e, const std::string& host) {
  std::string who = "rank " + std::to_string(e.rank) + " (pid " + std::to_string(e.pid) + " on " + host + ")";
  if (e.signal) return who + " was killed by signal " + std::to_string(e.signal) + " (" + strsignal(e.signal) + ")";
  return who + " exited with code " + std::to_string(e.exit_code);
}

}  // namespace

int free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(os_error("socket", errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    ::close(fd);
    throw std::runtime_error(os_error("finding a free port", err));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string current_executable() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error("cannot find the running program (/proc/self/exe): " + ec.message());
  return p.string();
}

LaunchResult launch_local_ranks(const LaunchOptions& o) {
  if (o.nproc < 1) throw std::invalid_argument("--nproc-per-node must be >= 1");
  int port = o.master_port;
  if (port == 0) {
    const char* env_port = std::getenv("MASTER_PORT");
    port = env_port && *env_port ? std::atoi(env_port) : free_local_port();
  }
  const std::string host = host_name();

  // Pass termination requests on to the ranks instead of dying and leaving them behind.
  struct sigaction sa{}, old_term{}, old_hup{}, old_int{};
  sa.sa_handler = remember_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, &old_term);
  sigaction(SIGHUP, &sa, &old_hup);
  sigaction(SIGINT, &sa, &old_int);  // Ctrl-C reaches the ranks directly (same process group)
  g_forward_signal.store(0);

  LaunchResult result;
  std::vector<pid_t> pids;
  auto stop_all = [&](int sig) {
    for (size_t r = 0; r < pids.size(); ++r)
      if (pids[r] > 0) ::kill(pids[r], sig);
  };
  for (int rank = 0; rank < o.nproc; ++rank) {
    std::vector<std::string> argv_s{o.program};
    argv_s.insert(argv_s.end(), o.args.begin(), o.args.end());
    std::vector<std::string> env_s = child_environment(o, rank, port);
    std::vector<char*> argv, envp;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_t pid = 0;
    const int err = ::posix_spawn(&pid, o.program.c_str(), nullptr, nullptr, argv.data(), envp.data());
    if (err != 0) {
      stop_all(SIGKILL);
      for (pid_t p : pids) ::waitpid(p, nullptr, 0);
      sigaction(SIGTERM, &old_term, nullptr);
      sigaction(SIGHUP, &old_hup, nullptr);
      sigaction(SIGINT, &old_int, nullptr);
      throw std::runtime_error(os_error("starting rank " + std::to_string(rank) + " (" + o.program + ")", err));
    }
    pids.push_back(pid);
    result.ranks.push_back({rank, static_cast<int>(pid), 0, 0, false});
  }

  size_t running = pids.size();
  bool stopping = false;
  std::chrono::steady_clock::time_point kill_at{};
  while (running > 0) {
    if (int sig = g_forward_signal.exchange(0); sig != 0 && sig != SIGINT) stop_all(sig);
    for (size_t r = 0; r < pids.size(); ++r) {
      if (pids[r] <= 0) continue;
      int status = 0;
      const pid_t got = ::waitpid(pids[r], &status, WNOHANG);
      if (got != pids[r]) continue;
      RankExit& e = result.ranks[r];
      e.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
      e.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
      e.stopped_by_launcher = stopping;
      pids[r] = -1;
      --running;
      const bool failed = e.signal != 0 || e.exit_code != 0;
      if (failed && result.first_failed_rank < 0) {
        result.first_failed_rank = static_cast<int>(r);
        result.message = describe_exit(e, host);
        result.exit_code = e.signal ? 1 : e.exit_code;
      }
      if (failed && !stopping && running > 0 && o.stop_on_failure) {
        // One rank is gone: the others would wait for it in their next collective until the timeout.
        stopping = true;
        kill_at = std::chrono::steady_clock::now() + o.grace;
        stop_all(SIGTERM);
      }
    }
    if (stopping && running > 0 && std::chrono::steady_clock::now() >= kill_at) {
      stop_all(SIGKILL);
      kill_at = std::chrono::steady_clock::time_point::max();
    }
    if (running > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  sigaction(SIGTERM, &old_term, nullptr);
  sigaction(SIGHUP, &old_hup, nullptr);
  sigaction(SIGINT, &old_int, nullptr);
  return result;
}

}  // namespace xp::distributed
