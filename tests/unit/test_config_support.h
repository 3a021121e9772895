#pragma once
// Shared by the experiment-resolver tests: a scratch folder of TOML files and the test plugin
// (loss `test_constant`: value float in [0, 100] = 1.0, mode "plain"|"fancy") in the registry.
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "config/experiment.h"
#include "plugin_loader.h"
#include "xp/errors.h"

namespace xp::test {

class ScratchDir {
 public:
  ScratchDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("xp_config_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::filesystem::path write(const std::string& name, const std::string& text) const {
    auto p = path_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline PluginLoader& test_loader() {
  static PluginLoader loader;  // the global registry, as `xp` uses it
  static bool loaded = [] {
    loader.load_library(std::filesystem::path(XP_TEST_PLUGIN_DIR) / "good" / "xp_test_good.so");
    return true;
  }();
  (void)loaded;
  return loader;
}

// Resolves with only the tables present validated (the test plugin has a loss and nothing else).
inline std::vector<RunSpec> resolve(const std::filesystem::path& file, ExperimentOptions options = {}) {
  options.partial = true;
  return resolve_experiment(file, options, test_loader());
}

// The ConfigError a resolve throws ("" when it does not throw).
inline std::string resolve_error(const std::filesystem::path& file, ExperimentOptions options = {}) {
  try {
    resolve(file, std::move(options));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace xp::test
