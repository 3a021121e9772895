#pragma once
// The host's table of every plugin it has loaded, by kind and name (timm/MMEngine-style).

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "xp/params.h"
#include "xp/schema.h"

namespace xp {

struct PluginEntry {
  std::string kind;     // "model", "loss", ...
  std::string name;     // registered name, e.g. "focal"
  Schema schema;        // parameters, with the one-line doc in schema.doc()
  std::string library;  // path of the shared library that registered it ("" = built into the host)
  std::function<std::shared_ptr<void>(const Params&)> factory;
};

class PluginRegistry {
 public:
  static PluginRegistry& instance();

  // Throws xp::PluginLoadError if (kind, name) is taken by another library.
  void add(PluginEntry entry);
  const PluginEntry* find(const std::string& kind, const std::string& name) const;
  // Throws xp::ConfigError naming the closest registered names of that kind.
  const PluginEntry& get(const std::string& kind, const std::string& name) const;
  // Entries sorted by kind then name; `pattern` is a glob on the name ("*unet*"), `kind` may be "".
  std::vector<const PluginEntry*> list(const std::string& kind = "", const std::string& pattern = "*") const;
  std::vector<std::string> kinds() const;
  std::vector<std::string> names(const std::string& kind) const;

  // Constructs a plugin from validated params. Use xp::create<Kind>() for the typed form.
  std::shared_ptr<void> create_raw(const std::string& kind, const Params& params) const;

 private:
  std::map<std::pair<std::string, std::string>, PluginEntry> entries_;
};

template <class Kind>
std::shared_ptr<Kind> create(const Params& params) {
  return std::static_pointer_cast<Kind>(PluginRegistry::instance().create_raw(Kind::kKind, params));
}

}  // namespace xp
