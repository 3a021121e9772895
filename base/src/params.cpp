#include "xp/params.h"

#include "xp/errors.h"

namespace xp {

namespace {
// Nested plugin tables carry the source position of their table under this key (set by the
// host's validator) so errors raised while building children can still point at the file.
constexpr const char* kWhereKey = "__where__";

Params nested(const Value& v, const std::string& owner, const std::string& name) {
  if (v.type() != Value::Type::Table || !v.as_table().count("plugin"))
    throw ParamError("parameter '" + name + "' of '" + owner + "' is not a plugin table");
  Value::Table t = v.as_table();
  std::string plugin = t.at("plugin").as_string();
  std::string where;
  if (auto it = t.find(kWhereKey); it != t.end()) {
    where = it->second.as_string();
    t.erase(it);
  }
  t.erase("plugin");
  return Params(plugin, std::move(t), where);
}
}  // namespace

bool Params::has(const std::string& name) const {
  auto it = values_.find(name);
  return it != values_.end() && !it->second.is_none();
}

const Value& Params::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.is_none())
    throw ParamError("plugin '" + plugin_ + "' read parameter '" + name + "', which is not set");
  return it->second;
}

std::vector<int64_t> Params::get_ints(const std::string& name) const {
  std::vector<int64_t> out;
  for (const auto& v : get(name).as_list()) out.push_back(v.as_int());
  return out;
}
std::vector<double> Params::get_floats(const std::string& name) const {
  std::vector<double> out;
  for (const auto& v : get(name).as_list()) out.push_back(v.as_float());
  return out;
}
std::vector<std::string> Params::get_strings(const std::string& name) const {
  std::vector<std::string> out;
  for (const auto& v : get(name).as_list()) out.push_back(v.as_string());
  return out;
}

Params Params::get_plugin(const std::string& name) const { return nested(get(name), plugin_, name); }

std::vector<Params> Params::get_plugins(const std::string& name) const {
  std::vector<Params> out;
  for (const auto& v : get(name).as_list()) out.push_back(nested(v, plugin_, name));
  return out;
}

Params Params::get_section(const std::string& name) const {
  const Value& v = get(name);
  Value::Table t = v.as_table();
  std::string where;
  if (auto it = t.find(kWhereKey); it != t.end()) {
    where = it->second.as_string();
    t.erase(it);
  }
  return Params(plugin_ + "." + name, std::move(t), where);
}

std::vector<Params> Params::get_sections(const std::string& name) const {
  std::vector<Params> out;
  size_t i = 0;
  for (const auto& v : get(name).as_list()) {
    Value::Table t = v.as_table();
    std::string where;
    if (auto it = t.find(kWhereKey); it != t.end()) {
      where = it->second.as_string();
      t.erase(it);
    }
    out.emplace_back(plugin_ + "." + name + "[" + std::to_string(i++) + "]", std::move(t), where);
  }
  return out;
}

Params Params::with(const std::string& name, Value v) const {
  Params copy = *this;
  copy.values_[name] = std::move(v);
  return copy;
}

}  // namespace xp
