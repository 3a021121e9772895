#include "plugin_loader.h"

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <torch/version.h>

#include "xp/errors.h"
#include "xp/plugin.h"

namespace fs = std::filesystem;

namespace xp {

namespace {

// Loaded libraries are never unloaded: plugin objects (and their vtables, static strings) may
// live until exit, and unloading under them would be undefined behaviour.
std::vector<boost::dll::shared_library>& resident_libraries() {
  static auto* libs = new std::vector<boost::dll::shared_library>();
  return *libs;
}

std::string major_minor(const std::string& version) {
  auto first = version.find('.');
  if (first == std::string::npos) return version;
  auto second = version.find('.', first + 1);
  return version.substr(0, second);
}

void check_manifest(const fs::path& file, const xp_plugin_manifest& m) {
  auto refuse = [&](const std::string& what, const std::string& plugin_side, const std::string& host_side) {
    throw PluginLoadError(file.string() + ": built for " + what + " " + plugin_side + ", but this xp has " +
                          host_side + "; rebuild the plugin against this xp");
  };
  if (m.abi_version != XP_PLUGIN_ABI_VERSION)
    refuse("plugin ABI", std::to_string(m.abi_version), std::to_string(XP_PLUGIN_ABI_VERSION));
  if (m.struct_size < sizeof(xp_plugin_manifest))
    refuse("manifest size", std::to_string(m.struct_size), std::to_string(sizeof(xp_plugin_manifest)));
  const std::string plugin_xp = m.xp_version ? m.xp_version : "?";
  if (major_minor(plugin_xp) != major_minor(XP_VERSION_STRING)) refuse("xp", plugin_xp, XP_VERSION_STRING);
  if (m.torch_major != TORCH_VERSION_MAJOR || m.torch_minor != TORCH_VERSION_MINOR)
    refuse("LibTorch", std::to_string(m.torch_major) + "." + std::to_string(m.torch_minor),
           std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR));
  if (m.cxx11_abi != _GLIBCXX_USE_CXX11_ABI)
    refuse("_GLIBCXX_USE_CXX11_ABI", std::to_string(m.cxx11_abi), std::to_string(_GLIBCXX_USE_CXX11_ABI));
}

bool is_library(const fs::path& p) {
  return p.extension() == ".so" && fs::is_regular_file(p);
}

}  // namespace

std::vector<fs::path> PluginLoader::default_search_path() {
  std::vector<fs::path> dirs;
  boost::system::error_code ec;
  fs::path exe_dir = boost::dll::program_location(ec).parent_path().string();
  if (!ec) {
    dirs.push_back(exe_dir / "plugins");
    dirs.push_back(exe_dir / ".." / "lib" / "xp" / "plugins");
  }
  if (const char* env = std::getenv("XP_PLUGIN_PATH")) {
    std::stringstream ss(env);
    std::string item;
    while (std::getline(ss, item, ':'))
      if (!item.empty()) dirs.emplace_back(item);
  }
  return dirs;
}

void PluginLoader::load_library(const fs::path& file) {
  std::error_code fec;
  if (!fs::exists(file, fec)) throw PluginLoadError(file.string() + ": no such plugin library");
  const std::string canonical = fs::weakly_canonical(file, fec).string();
  for (const auto& l : loaded_)
    if (l.path == canonical) return;

  boost::dll::shared_library lib;
  boost::system::error_code ec;
  lib.load(canonical, boost::dll::load_mode::rtld_lazy | boost::dll::load_mode::rtld_local, ec);
  if (ec) throw PluginLoadError(file.string() + ": cannot be loaded: " + ec.message());
  if (!lib.has("xp_plugin_manifest_v1"))
    throw PluginLoadError(file.string() + ": not an xp plugin (no xp_plugin_manifest_v1 entry point)");
  const auto* manifest = lib.get<const xp_plugin_manifest*()>("xp_plugin_manifest_v1")();
  if (!manifest) throw PluginLoadError(file.string() + ": its manifest is empty");
  check_manifest(file, *manifest);
  if (!lib.has("xp_plugin_register_v1"))
    throw PluginLoadError(file.string() + ": has a manifest but no xp_plugin_register_v1 entry point");
  auto do_register = lib.get<int(PluginRegistry*, const char*)>("xp_plugin_register_v1");
  int n = do_register(&registry_, canonical.c_str());
  resident_libraries().push_back(std::move(lib));
  loaded_.push_back({canonical, n});
}

void PluginLoader::load_directory(const fs::path& dir, std::vector<std::string>& problems) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (is_library(entry.path())) files.push_back(entry.path());
  std::sort(files.begin(), files.end());  // deterministic order, hence deterministic conflicts
  for (const auto& f : files) {
    try {
      load_library(f);
    } catch (const std::exception& e) {
      problems.push_back(e.what());
    }
  }
}

void PluginLoader::load_all(const std::vector<fs::path>& extra, std::vector<std::string>& problems) {
  for (const auto& dir : default_search_path()) load_directory(dir, problems);
  for (const auto& p : extra) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      load_directory(p, problems);
    } else {
      try {
        load_library(p);
      } catch (const std::exception& e) {
        problems.push_back(e.what());
      }
    }
  }
}

}  // namespace xp
