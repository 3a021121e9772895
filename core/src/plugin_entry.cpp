// Compiled into every plugin library by xp_add_plugin(): the versioned C entry points the host
// checks before it trusts anything else in the library.
#include <torch/version.h>

#include "xp/plugin.h"

#define XP_EXPORT extern "C" __attribute__((visibility("default")))

XP_EXPORT const xp_plugin_manifest* xp_plugin_manifest_v1() {
  static const xp_plugin_manifest manifest = {
      sizeof(xp_plugin_manifest),
      XP_PLUGIN_ABI_VERSION,
      XP_VERSION_STRING,
      TORCH_VERSION_MAJOR,
      TORCH_VERSION_MINOR,
      _GLIBCXX_USE_CXX11_ABI,
      __VERSION__,
  };
  return &manifest;
}

// Called only after the manifest matched the host, so passing C++ objects is safe here.
XP_EXPORT int xp_plugin_register_v1(xp::PluginRegistry* registry, const char* library_path) {
  for (auto entry : xp::detail::library_entries()) {
    entry.library = library_path;
    registry->add(std::move(entry));
  }
  return static_cast<int>(xp::detail::library_entries().size());
}
