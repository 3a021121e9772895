#pragma once
// The validated parameters a plugin is constructed with. Every parameter of the schema is present
// (defaults filled in) unless it is optional(); types were checked by the host, so a failing getter
// is a bug in the plugin and throws xp::ParamError.

#include <string>
#include <vector>

#include "xp/value.h"

namespace xp {

class Params {
 public:
  Params() = default;
  Params(std::string plugin, Value::Table values, std::string where = {})
      : plugin_(std::move(plugin)), values_(std::move(values)), where_(std::move(where)) {}

  const std::string& plugin() const { return plugin_; }  // the registered name
  const std::string& where() const { return where_; }    // file:line:col of the plugin table
  const Value::Table& values() const { return values_; }

  bool has(const std::string& name) const;
  const Value& get(const std::string& name) const;
  bool get_bool(const std::string& name) const { return get(name).as_bool(); }
  int64_t get_int(const std::string& name) const { return get(name).as_int(); }
  double get_float(const std::string& name) const { return get(name).as_float(); }
  const std::string& get_string(const std::string& name) const { return get(name).as_string(); }
  std::vector<int64_t> get_ints(const std::string& name) const;
  std::vector<double> get_floats(const std::string& name) const;
  std::vector<std::string> get_strings(const std::string& name) const;
  // A nested plugin table (ParamType::Plugin) or each element of a PluginList, ready to be
  // passed to xp::create<Kind>().
  Params get_plugin(const std::string& name) const;
  std::vector<Params> get_plugins(const std::string& name) const;

  // A nested section (ParamType::Section) or each table of a SectionList.
  Params get_section(const std::string& name) const;
  std::vector<Params> get_sections(const std::string& name) const;

  // Returns a copy with `name` set (used by the host to wire e.g. num_classes).
  Params with(const std::string& name, Value v) const;

 private:
  std::string plugin_;
  Value::Table values_;
  std::string where_;
};

}  // namespace xp
