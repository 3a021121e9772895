#pragma once
// Finds plugin libraries and loads them with Boost.DLL, checking each library's versioned C
// manifest before any of its C++ code is called. Libraries stay loaded for the life of the process
// so that no plugin object outlives its code.

#include <filesystem>
#include <string>
#include <vector>

#include "xp/plugin_registry.h"

namespace xp {

struct LoadedLibrary {
  std::string path;
  int plugins = 0;  // how many plugins it registered
};

class PluginLoader {
 public:
  explicit PluginLoader(PluginRegistry& registry = PluginRegistry::instance()) : registry_(registry) {}

  // The host's bundled plugin folder (relative to the xp binary: ./plugins in a build tree,
  // ../lib/xp/plugins when installed) followed by the folders of XP_PLUGIN_PATH.
  static std::vector<std::filesystem::path> default_search_path();

  // Loads one library; throws xp::PluginLoadError naming the file and the reason (missing file,
  // not an xp plugin, built for another plugin ABI / xp / LibTorch version or C++ ABI).
  void load_library(const std::filesystem::path& file);
  // Loads every *.so in `dir` (a missing folder is not an error). Libraries that fail are skipped
  // and their error appended to `problems`, so one broken plugin does not stop the host.
  void load_directory(const std::filesystem::path& dir, std::vector<std::string>& problems);
  // default_search_path() then `extra` (files or folders), each library at most once.
  void load_all(const std::vector<std::filesystem::path>& extra, std::vector<std::string>& problems);

  const std::vector<LoadedLibrary>& libraries() const { return loaded_; }

 private:
  PluginRegistry& registry_;
  std::vector<LoadedLibrary> loaded_;
};

}  // namespace xp
