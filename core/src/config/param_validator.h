#pragma once
// Parameter validation (xp/base/param_validator.h) against the plugins loaded in this process:
// the forms the experiment resolver uses, with PluginRegistry as the source of plugin schemas.

#include <set>
#include <string>

#include "xp/base/param_validator.h"
#include "xp/plugin_registry.h"

namespace xp::config {

// PluginRegistry seen as the schemas validation needs.
class RegistrySchemas : public PluginSchemas {
 public:
  explicit RegistrySchemas(const PluginRegistry& registry) : registry_(registry) {}
  const Schema* find(const std::string& kind, const std::string& name) const override;
  std::vector<std::string> names(const std::string& kind) const override;

 private:
  const PluginRegistry& registry_;
};

Value::Table validate_params(const Node& table, const Schema& schema, const std::string& label,
                             const std::set<std::string>& skip = {}, const std::string& path = "");

Params validate_plugin(const Node& table, const std::string& kind, const std::string& path,
                       const PluginRegistry& registry = PluginRegistry::instance());

}  // namespace xp::config
