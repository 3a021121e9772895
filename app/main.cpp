// xp: the experiment host. Dispatches to subcommands and turns every error into a clear message
// and a documented exit code.
#include <algorithm>
#include <stdexcept>
#include <iostream>

#include <torch/version.h>

#include "command.h"
#include "options.h"
#include "torch_commands.h"
#include "xp/base/suggest.h"
#include "xp/errors.h"
#include "xp/version.h"

namespace xp::cli {

std::vector<Command>& commands() {
  static std::vector<Command> all;
  return all;
}

namespace {

// Loads the training commands' module and checks it registered every name main dispatches
// to it by (a name in torch_command_names() that the module lacks would fail only when used).
void load_torch_commands_checked() {
  load_torch_commands();
  for (const auto& name : torch_command_names()) {
    bool found = std::any_of(commands().begin(), commands().end(), [&](const Command& c) { return c.name == name; });
    if (!found) throw std::logic_error("xp's training commands module does not register '" + name + "'");
  }
}

void print_help() {
  try {
    load_torch_commands_checked();
  } catch (const std::exception& e) {
    std::cerr << "warning: " << e.what() << "\n";
  }
  std::cout << "xp " << XP_VERSION_STRING << ": experiments for deep learning on LibTorch\n\n"
            << "usage: xp <command> [options]    (xp <command> --help for its options)\n\ncommands:\n";
  auto all = commands();
  std::sort(all.begin(), all.end(), [](const Command& a, const Command& b) { return a.name < b.name; });
  for (const auto& c : all) {
    std::string pad(c.name.size() < 12 ? 12 - c.name.size() : 1, ' ');
    std::cout << "  " << c.name << pad << c.summary << "\n";
  }
  std::cout << "\nexit codes: 0 success, 1 a run failed, 2 usage or configuration error, 130 interrupted (SIGINT),\n"
            << "            143 stopped by SIGTERM (run checkpointed, resumable with xp run --resume)\n";
}

void print_version() {
  std::cout << "xp " << XP_VERSION_STRING << "\n"
            << "LibTorch " << TORCH_VERSION_MAJOR << "." << TORCH_VERSION_MINOR << "." << TORCH_VERSION_PATCH << "\n"
            << "plugin ABI " << XP_PLUGIN_ABI_VERSION << "\n"
            << "C++ ABI _GLIBCXX_USE_CXX11_ABI=" << _GLIBCXX_USE_CXX11_ABI << "\n";
}

}  // namespace
}  // namespace xp::cli

int main(int argc, char** argv) {
  using namespace xp::cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_help();
    return args.empty() ? kUsage : kOk;
  }
  if (args[0] == "--version" || args[0] == "-V" || args[0] == "version") {
    print_version();
    return kOk;
  }
  std::vector<std::string> names = torch_command_names();
  for (const auto& c : commands()) names.push_back(c.name);
  try {
    if (std::find(torch_command_names().begin(), torch_command_names().end(), args[0]) != torch_command_names().end())
      load_torch_commands_checked();
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kRunFailed;
  }
  auto it = std::find_if(commands().begin(), commands().end(), [&](const Command& c) { return c.name == args[0]; });
  if (it == commands().end()) {
    std::cerr << "xp: unknown command '" << args[0] << "'" << xp::did_you_mean(args[0], names)
              << "\nrun `xp --help` for the list of commands\n";
    return kUsage;
  }
  try {
    return it->run(std::vector<std::string>(args.begin() + 1, args.end()));
  } catch (const UsageError& e) {
    std::cerr << "xp " << args[0] << ": " << e.what() << "\n";
    return kUsage;
  } catch (const xp::ConfigError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kUsage;
  } catch (const xp::PluginLoadError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kUsage;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kRunFailed;
  }
}
