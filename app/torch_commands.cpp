#include "torch_commands.h"

#include <dlfcn.h>

#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace xp::cli {

namespace fs = std::filesystem;

const std::vector<std::string>& torch_command_names() {
  static const std::vector<std::string> names = {"augment", "bench",   "ensemble", "export",  "plugins",
                                                 "predict", "run",     "sweep",    "validate"};
  return names;
}

namespace {

constexpr const char* kModuleFile = "libxp_torch_commands.so";

// Beside the binary in the build tree (build/lib, where every library lands), under lib/xp once
// installed (bin/xp -> lib/xp/), the same rule as the bundled plugins.
std::vector<fs::path> module_candidates() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {kModuleFile};  // left to the loader's own search path
  fs::path dir = exe.parent_path();
  return {dir / "lib" / kModuleFile, dir.parent_path() / "lib" / "xp" / kModuleFile};
}

}  // namespace

void load_torch_commands() {
  static bool loaded = false;
  if (loaded) return;
  std::string reasons;
  for (const auto& candidate : module_candidates()) {
    std::error_code ec;
    if (candidate.has_parent_path() && !fs::exists(candidate, ec)) {
      reasons += "\n  " + candidate.string() + ": no such file";
      continue;
    }
    // RTLD_NOW: a missing symbol is reported here, not in the middle of a run. The module's
    // commands register themselves into the binary's commands() as its static objects start.
    if (::dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL) != nullptr) {
      loaded = true;
      return;
    }
    const char* why = ::dlerror();
    reasons += "\n  " + candidate.string() + ": " + (why ? why : "unknown reason");
  }
  throw std::runtime_error(std::string("cannot load xp's training commands (") + kModuleFile +
                           "; rebuild with `cmake --build build --target xp_main`):" + reasons);
}

}  // namespace xp::cli
