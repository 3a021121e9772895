#include "config/overrides.h"

#include <algorithm>
#include <cctype>

#include "xp/errors.h"

namespace xp::config {

namespace {

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

bool is_index(const std::string& s) {
  return !s.empty() && s.size() < 10 && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(c); });
}

void position(Node& n, const std::string& where) {
  n.where = n.key_where = where;
  for (auto& i : n.items) position(i, where);
  for (auto& [k, f] : n.fields) position(f, where);
}

void set_path(Node& root, const Override& o) {
  const std::string where = "--set " + o.text;
  Node* cur = &root;
  for (size_t i = 0; i + 1 < o.path.size(); ++i) {
    const std::string& key = o.path[i];
    if (cur->is_array()) {
      if (!is_index(key) || std::stoul(key) >= cur->items.size())
        throw ConfigError("'" + key + "' is not an index of this array of " + std::to_string(cur->items.size()) +
                              " elements (use 0.." + std::to_string(cur->items.size()) + "-1)",
                          where);
      cur = &cur->items[std::stoul(key)];
      continue;
    }
    if (!cur->is_table()) throw ConfigError("cannot set a key inside a " + cur->type_name(), where);
    Node& next = cur->fields[key];
    if (next.where.empty()) {  // created by this override
      next.kind = Node::Kind::Table;
      next.where = next.key_where = where;
    }
    cur = &next;
  }
  const std::string& last = o.path.back();
  if (cur->is_array()) {
    if (!is_index(last) || std::stoul(last) >= cur->items.size())
      throw ConfigError("'" + last + "' is not an index of this array of " + std::to_string(cur->items.size()) +
                            " elements",
                        where);
    cur->items[std::stoul(last)] = o.value;
    return;
  }
  if (!cur->is_table()) throw ConfigError("cannot set a key inside a " + cur->type_name(), where);
  if (last == "plugin") {
    // Another plugin: its table starts afresh (see the header).
    const bool other = cur->plugin_name() != (o.value.is_scalar() && o.value.scalar.type() == Value::Type::String
                                                  ? o.value.scalar.as_string()
                                                  : std::string("\x01"));
    if (other && !cur->fields.empty()) {
      cur->fields.clear();
      cur->where = where;
    }
  }
  cur->fields[last] = o.value;
}

}  // namespace

Override parse_override(const std::string& text) {
  const std::string where = "--set " + text;
  auto eq = text.find('=');
  if (eq == std::string::npos) throw ConfigError("--set expects KEY=VALUE, e.g. --set train.epochs=5", where);
  Override o;
  o.text = text;
  const std::string key = trim(text.substr(0, eq));
  const std::string value = trim(text.substr(eq + 1));
  size_t start = 0;
  while (true) {
    size_t dot = key.find('.', start);
    std::string part = trim(key.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (part.empty()) throw ConfigError("--set key '" + key + "' has an empty part", where);
    o.path.push_back(part);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  try {
    Node doc = parse_toml_text("v = " + value, where);
    const Node* v = doc.find("v");
    if (!v || doc.fields.size() != 1) throw ConfigError("not one value");
    o.value = *v;
  } catch (const ConfigError&) {
    // Not a TOML value (a bare word, a date...): the text itself, as a string.
    o.value = Node();
    o.value.kind = Node::Kind::Scalar;
    o.value.scalar = Value(value);
  }
  position(o.value, where);
  return o;
}

void apply_overrides(Node& root, const std::vector<Override>& overrides) {
  std::vector<const Override*> order;
  for (const auto& o : overrides)
    if (o.path.back() == "plugin") order.push_back(&o);
  for (const auto& o : overrides)
    if (o.path.back() != "plugin") order.push_back(&o);
  for (const auto* o : order) set_path(root, *o);
}

}  // namespace xp::config
