#include "xp/base/param_validator.h"

#include "xp/base/config_errors.h"
#include "xp/base/suggest.h"
#include "xp/errors.h"

namespace xp::config {

namespace {

std::string describe(const Node& n) {
  if (n.is_scalar()) return Value::type_name(n.scalar.type()) + std::string(" ") + n.scalar.to_string();
  return n.type_name();
}

[[noreturn]] void wrong_type(const std::string& label, const ParamSpec& spec, const Node& got) {
  throw ConfigError(label + ": '" + spec.name + "' must be " + param_type_name(spec.type) + ", got " + describe(got),
                    got.where);
}

bool same_value(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return a.as_float() == b.as_float();
  return a == b;
}

// Range and choices of one scalar (a parameter, or one element of a list parameter).
void check_allowed(const std::string& label, const ParamSpec& spec, const Value& v, const Node& node) {
  if (v.is_number()) {
    const std::string problem = spec.number_problem(v.as_float());
    if (!problem.empty())
      throw ConfigError(label + ": '" + spec.name + "' = " + v.to_string() + " " + problem, node.where);
  }
  if (spec.choices.empty()) return;
  for (const auto& c : spec.choices)
    if (same_value(c, v)) return;
  std::string allowed;
  std::vector<std::string> names;
  for (const auto& c : spec.choices) {
    allowed += (allowed.empty() ? "" : ", ") + c.to_string();
    if (c.type() == Value::Type::String) names.push_back(c.as_string());
  }
  std::string hint = v.type() == Value::Type::String ? did_you_mean(v.as_string(), names) : "";
  throw ConfigError(label + ": '" + spec.name + "' = " + v.to_string() + " is not one of " + allowed + hint,
                    node.where);
}

// An auto/on/off parameter (its choices include "on" and "off"): `true` and `false` mean "on"
// and "off", so a switch that gained an "auto" keeps accepting the experiments written for it.
bool is_switch(const ParamSpec& spec) {
  bool on = false, off = false;
  for (const auto& c : spec.choices)
    if (c.type() == Value::Type::String) {
      on = on || c.as_string() == "on";
      off = off || c.as_string() == "off";
    }
  return on && off;
}

// A scalar of the element type `want` (Bool, Int, Float or String), or nullopt-like None.
Value scalar_as(ParamType want, const Node& n) {
  if (!n.is_scalar()) return Value();
  const Value& v = n.scalar;
  switch (want) {
    case ParamType::Bool: return v.type() == Value::Type::Bool ? v : Value();
    case ParamType::Int: return v.type() == Value::Type::Int ? v : Value();
    case ParamType::Float: return v.is_number() ? Value(v.as_float()) : Value();
    case ParamType::String: return v.type() == Value::Type::String ? v : Value();
    default: return Value();
  }
}

ParamType element_type(ParamType list) {
  switch (list) {
    case ParamType::IntList: return ParamType::Int;
    case ParamType::FloatList: return ParamType::Float;
    default: return ParamType::String;
  }
}

Value::Table validate_table(const Node& table, const Schema& schema, const std::string& label,
                            const std::string& path, const std::set<std::string>& skip, const PluginSchemas& plugins);

Value with_where(Value::Table t, const std::string& where) {
  t[kWhereKey] = Value(where);
  return Value(std::move(t));
}

Value validate_nested_plugin(const std::string& label, const ParamSpec& spec, const Node& n,
                             const std::string& path, const PluginSchemas& plugins) {
  if (!n.is_table()) wrong_type(label, spec, n);
  Params p = validate_plugin(n, spec.plugin_kind, path, plugins);
  Value::Table t = p.values();
  t["plugin"] = Value(p.plugin());
  return with_where(std::move(t), p.where());
}

Value validate_section(const std::string& label, const ParamSpec& spec, const Node& n, const std::string& path,
                       const PluginSchemas& plugins) {
  if (!n.is_table()) wrong_type(label, spec, n);
  return with_where(validate_table(n, *spec.section, "[" + path + "]", path, {}, plugins), n.where);
}

// `owner` is the dotted path of the table holding the parameter ("train", "model.encoder").
Value validate_one(const std::string& label, const std::string& owner, const ParamSpec& spec, const Node& n,
                   const PluginSchemas& plugins) {
  const std::string path = owner + "." + spec.name;
  switch (spec.type) {
    case ParamType::Bool:
    case ParamType::Int:
    case ParamType::Float:
    case ParamType::String: {
      Value v = scalar_as(spec.type, n);
      if (v.is_none() && spec.type == ParamType::String && is_switch(spec) && n.is_scalar() &&
          n.scalar.type() == Value::Type::Bool)
        v = Value(std::string(n.scalar.as_bool() ? "on" : "off"));
      if (v.is_none()) wrong_type(label, spec, n);
      check_allowed(label, spec, v, n);
      return v;
    }
    case ParamType::IntList:
    case ParamType::FloatList:
    case ParamType::StringList: {
      if (!n.is_array()) wrong_type(label, spec, n);
      Value::List out;
      ErrorCollector errors;
      for (size_t i = 0; i < n.items.size(); ++i) {
        Value v = scalar_as(element_type(spec.type), n.items[i]);
        if (v.is_none()) {
          errors.add(ConfigError(label + ": '" + spec.name + "' must be " + param_type_name(spec.type) +
                                     ", but element " + std::to_string(i) + " is " + describe(n.items[i]),
                                 n.items[i].where));
          continue;
        }
        if (errors.attempt([&] { check_allowed(label, spec, v, n.items[i]); })) out.push_back(std::move(v));
      }
      errors.throw_if_any();
      return Value(std::move(out));
    }
    case ParamType::Table:
      if (!n.is_table()) wrong_type(label, spec, n);
      return n.to_value();
    case ParamType::Plugin: return validate_nested_plugin(label, spec, n, path, plugins);
    case ParamType::PluginList: {
      if (!n.is_array()) wrong_type(label, spec, n);
      Value::List out;
      ErrorCollector errors;
      for (size_t i = 0; i < n.items.size(); ++i)
        errors.attempt([&] {
          out.push_back(
              validate_nested_plugin(label, spec, n.items[i], path + "[" + std::to_string(i) + "]", plugins));
        });
      errors.throw_if_any();
      return Value(std::move(out));
    }
    case ParamType::Section: return validate_section(label, spec, n, path, plugins);
    case ParamType::SectionList: {
      if (!n.is_array()) wrong_type(label, spec, n);
      Value::List out;
      ErrorCollector errors;
      for (size_t i = 0; i < n.items.size(); ++i)
        errors.attempt(
            [&] { out.push_back(validate_section(label, spec, n.items[i], path + "[" + std::to_string(i) + "]", plugins)); });
      errors.throw_if_any();
      return Value(std::move(out));
    }
  }
  return Value();
}

Value::Table validate_table(const Node& table, const Schema& schema, const std::string& label,
                            const std::string& path, const std::set<std::string>& skip, const PluginSchemas& plugins) {
  if (!table.is_table()) throw ConfigError(label + " must be a table, got " + table.type_name(), table.where);
  Value::Table out;
  std::vector<std::string> names;
  for (const auto& p : schema.params()) names.push_back(p.name);
  // Each key is checked on its own, so that every mistake in the table is reported at once.
  ErrorCollector errors;
  std::set<std::string> given;
  for (const auto& [key, node] : table.fields) {
    if (skip.count(key)) continue;
    given.insert(key);
    const ParamSpec* spec = schema.find(key);
    if (!spec) {
      std::string known = names.empty() ? " (it takes no parameters)" : "";
      errors.add(ConfigError("unknown parameter '" + key + "' for " + label + known + did_you_mean(key, names),
                             node.key_where));
      continue;
    }
    errors.attempt([&, &key = key, &node = node] { out[key] = validate_one(label, path, *spec, node, plugins); });
  }
  for (const auto& spec : schema.params()) {
    if (given.count(spec.name)) continue;
    if (spec.required) {
      errors.add(ConfigError(label + ": missing required parameter '" + spec.name + "' (" +
                                 param_type_name(spec.type) + ": " + spec.doc + ")",
                             table.where));
      continue;
    }
    if (spec.type == ParamType::Section) {
      // An absent section still gets its defaults, positioned at the table that would hold it.
      Node empty;
      empty.where = empty.key_where = table.where;
      errors.attempt([&] { out[spec.name] = validate_section(label, spec, empty, path + "." + spec.name, plugins); });
      continue;
    }
    if (!spec.default_value.is_none()) out[spec.name] = spec.default_value;
  }
  errors.throw_if_any();
  return out;
}

class NoPlugins : public PluginSchemas {
 public:
  const Schema* find(const std::string&, const std::string&) const override { return nullptr; }
  std::vector<std::string> names(const std::string&) const override { return {}; }
};

}  // namespace

const PluginSchemas& no_plugins() {
  static const NoPlugins none;
  return none;
}

Value::Table validate_params(const Node& table, const Schema& schema, const std::string& label,
                             const PluginSchemas& plugins, const std::set<std::string>& skip,
                             const std::string& path) {
  if (!path.empty()) return validate_table(table, schema, label, path, skip, plugins);
  std::string from_label = label;
  if (from_label.size() > 2 && from_label.front() == '[' && from_label.back() == ']')
    from_label = from_label.substr(1, from_label.size() - 2);
  return validate_table(table, schema, label, from_label, skip, plugins);
}

Params validate_plugin(const Node& table, const std::string& kind, const std::string& path,
                       const PluginSchemas& plugins) {
  if (!table.is_table())
    throw ConfigError("[" + path + "] must be a table with plugin = \"<name>\", got " + table.type_name(), table.where);
  const Node* name_node = table.find("plugin");
  if (!name_node)
    throw ConfigError("[" + path + "] does not say which " + kind + " to use: add plugin = \"<name>\"" +
                          " (xp plugins list --kind " + kind + ")",
                      table.where);
  if (!name_node->is_scalar() || name_node->scalar.type() != Value::Type::String)
    throw ConfigError("[" + path + "] plugin must be a string, got " + describe(*name_node), name_node->where);
  const std::string name = name_node->scalar.as_string();
  const Schema* schema = plugins.find(kind, name);
  if (!schema) {
    auto known = plugins.names(kind);
    std::string hint = did_you_mean(name, known);
    if (known.empty())
      hint = " (no " + kind + " plugins are loaded; check XP_PLUGIN_PATH, --plugin-path or [plugins] paths)";
    else if (hint.empty())
      hint = " (xp plugins list --kind " + kind + " shows the " + std::to_string(known.size()) + " available)";
    throw ConfigError("unknown " + kind + " '" + name + "'" + hint, name_node->where);
  }
  Value::Table values = validate_table(table, *schema, kind + " '" + name + "'", path, {"plugin"}, plugins);
  return Params(name, std::move(values), table.where);
}

Value strip_where(const Value& v) {
  switch (v.type()) {
    case Value::Type::Table: {
      Value::Table t;
      for (const auto& [k, c] : v.as_table())
        if (k != kWhereKey) t.emplace(k, strip_where(c));
      return Value(std::move(t));
    }
    case Value::Type::List: {
      Value::List l;
      for (const auto& c : v.as_list()) l.push_back(strip_where(c));
      return Value(std::move(l));
    }
    default: return v;
  }
}

}  // namespace xp::config
