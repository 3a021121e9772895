// load_plugins (options.h) lives with the commands that train or load models: it needs the plugin
// loader of xpcore, and with it LibTorch, which the registry commands never load.
#include <filesystem>
#include <iostream>

#include "options.h"
#include "plugin_loader.h"

namespace xp::cli {

void load_plugins(const std::vector<std::string>& extra) {
  static PluginLoader loader;
  std::vector<std::filesystem::path> paths(extra.begin(), extra.end());
  std::vector<std::string> problems;
  loader.load_all(paths, problems);
  for (const auto& p : problems) std::cerr << "warning: skipped plugin library " << p << "\n";
}

}  // namespace xp::cli
