#include "config/param_validator.h"

namespace xp::config {

const Schema* RegistrySchemas::find(const std::string& kind, const std::string& name) const {
  const PluginEntry* entry = registry_.find(kind, name);
  return entry ? &entry->schema : nullptr;
}

std::vector<std::string> RegistrySchemas::names(const std::string& kind) const { return registry_.names(kind); }

Value::Table validate_params(const Node& table, const Schema& schema, const std::string& label,
                             const std::set<std::string>& skip, const std::string& path) {
  return validate_params(table, schema, label, RegistrySchemas(PluginRegistry::instance()), skip, path);
}

Params validate_plugin(const Node& table, const std::string& kind, const std::string& path,
                       const PluginRegistry& registry) {
  return validate_plugin(table, kind, path, RegistrySchemas(registry));
}

}  // namespace xp::config
