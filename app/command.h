#pragma once
// Subcommands of the `xp` binary. Each lives in its own cmd_*.cpp and registers itself with one
// XP_CLI_COMMAND line, so adding a command touches no other file.

#include <functional>
#include <string>
#include <vector>

namespace xp::cli {

// Exit codes, documented in README.md ("Exit codes").
enum ExitCode : int {
  kOk = 0,
  kRunFailed = 1,    // a run failed, diverged or crashed; a benchmark missed nothing: 0
  kUsage = 2,        // bad command line or bad configuration (TOML, unknown plugin/parameter)
  kInterrupted = 130,  // SIGINT; SIGTERM gives 143 (128 + signal, see preemption.h)
};

struct Command {
  std::string name;
  std::string summary;
  std::function<int(const std::vector<std::string>& args)> run;  // args exclude the command name
};

std::vector<Command>& commands();

struct CommandRegistrar {
  CommandRegistrar(std::string name, std::string summary, std::function<int(const std::vector<std::string>&)> run) {
    commands().push_back({std::move(name), std::move(summary), std::move(run)});
  }
};

}  // namespace xp::cli

#define XP_CLI_CONCAT2(a, b) a##b
#define XP_CLI_CONCAT(a, b) XP_CLI_CONCAT2(a, b)
#define XP_CLI_COMMAND(NAME, SUMMARY, FN) \
  static ::xp::cli::CommandRegistrar XP_CLI_CONCAT(xp_cli_command_, __COUNTER__)(NAME, SUMMARY, FN)
