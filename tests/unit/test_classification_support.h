#pragma once
// Shared by the vision/classification plugin tests: loads the bundled plugin libraries once into
// the process-wide registry and builds plugins from their schema defaults plus overrides, the way
// the host does after validating an experiment.

#include <doctest/doctest.h>

#include <string>

#include "plugin_loader.h"
#include "xp/plugin.h"

namespace xp_test {

inline void load_plugin_library(const std::string& name) {
  xp::PluginLoader loader(xp::PluginRegistry::instance());
  loader.load_library(std::string(XP_BINARY_DIR "/plugins/") + name + ".so");
}

inline void load_classification_plugins() {
  static const bool loaded = [] {
    load_plugin_library("xp_vision");
    load_plugin_library("xp_classification");
    return true;
  }();
  (void)loaded;
}

// Every schema default, then `overrides`; an override the schema does not declare is a test bug.
inline xp::Params params_for(const std::string& kind, const std::string& name, xp::Value::Table overrides = {}) {
  load_classification_plugins();
  const xp::PluginEntry& entry = xp::PluginRegistry::instance().get(kind, name);
  xp::Value::Table values;
  for (const auto& spec : entry.schema.params())
    if (!spec.default_value.is_none()) values[spec.name] = spec.default_value;
  for (auto& [key, value] : overrides) {
    if (!entry.schema.has(key)) throw std::logic_error(kind + " '" + name + "' has no parameter '" + key + "'");
    values[key] = value;
  }
  return xp::Params(name, std::move(values), "test");
}

template <class Kind>
std::shared_ptr<Kind> make(const std::string& name, xp::Value::Table overrides = {}) {
  return xp::create<Kind>(params_for(Kind::kKind, name, std::move(overrides)));
}

inline xp::Value ints(std::vector<int64_t> v) {
  xp::Value::List l(v.begin(), v.end());
  return xp::Value(std::move(l));
}
inline xp::Value floats(std::vector<double> v) {
  xp::Value::List l(v.begin(), v.end());
  return xp::Value(std::move(l));
}

}  // namespace xp_test
