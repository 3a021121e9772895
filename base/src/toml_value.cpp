#include "xp/base/toml_value.h"

#include <toml++/toml.h>

#include "xp/errors.h"

namespace xp {

Value value_from_toml(const toml::node& n) {
  if (auto v = n.as_boolean()) return Value(v->get());
  if (auto v = n.as_integer()) return Value(v->get());
  if (auto v = n.as_floating_point()) return Value(v->get());
  if (auto v = n.as_string()) return Value(v->get());
  if (auto a = n.as_array()) {
    Value::List list;
    for (const auto& e : *a) list.push_back(value_from_toml(e));
    return Value(std::move(list));
  }
  if (auto t = n.as_table()) {
    Value::Table table;
    for (const auto& [k, v] : *t) table[std::string(k.str())] = value_from_toml(v);
    return Value(std::move(table));
  }
  const auto& r = n.source();
  throw ConfigError("dates and times are not supported here",
                    (r.path ? *r.path : std::string("<toml>")) + ":" + std::to_string(r.begin.line) + ":" +
                        std::to_string(r.begin.column));
}

Value parse_toml_value(const std::string& text) {
  try {
    auto table = toml::parse("v = " + text);
    return value_from_toml(*table.get("v"));
  } catch (const toml::parse_error& e) {
    throw std::runtime_error("not a TOML value: '" + text + "': " + std::string(e.description()));
  }
}

}  // namespace xp
