#include "xp/base/config_node.h"

#include <fstream>
#include <sstream>

#include <toml++/toml.h>

#include "xp/errors.h"

namespace xp::config {

std::string format_where(const std::string& path, unsigned line, unsigned column) {
  // Overrides from the command line have no lines; naming the override is more useful.
  if (path.rfind("--set ", 0) == 0) return path;
  return path + ":" + std::to_string(line) + ":" + std::to_string(column);
}

namespace {

std::string where_of(const toml::source_region& r, const std::string& fallback) {
  const std::string path = r.path ? *r.path : fallback;
  if (r.begin.line == 0) return format_where(path, 1, 1);
  return format_where(path, r.begin.line, r.begin.column);
}

Node convert(const toml::node& n, const std::string& source) {
  Node out;
  out.where = where_of(n.source(), source);
  out.key_where = out.where;
  switch (n.type()) {
    case toml::node_type::table: {
      out.kind = Node::Kind::Table;
      for (const auto& [key, child] : *n.as_table()) {
        Node c = convert(child, source);
        c.key_where = where_of(key.source(), source);
        out.fields.emplace(std::string(key.str()), std::move(c));
      }
      break;
    }
    case toml::node_type::array: {
      out.kind = Node::Kind::Array;
      for (const auto& child : *n.as_array()) out.items.push_back(convert(child, source));
      break;
    }
    case toml::node_type::string:
      out.kind = Node::Kind::Scalar;
      out.scalar = Value(std::string(n.as_string()->get()));
      break;
    case toml::node_type::integer:
      out.kind = Node::Kind::Scalar;
      out.scalar = Value(static_cast<int64_t>(n.as_integer()->get()));
      break;
    case toml::node_type::floating_point:
      out.kind = Node::Kind::Scalar;
      out.scalar = Value(n.as_floating_point()->get());
      break;
    case toml::node_type::boolean:
      out.kind = Node::Kind::Scalar;
      out.scalar = Value(n.as_boolean()->get());
      break;
    default:
      throw ConfigError("dates and times are not supported; quote the value to make it a string",
                        out.where);
  }
  return out;
}

Node parse(std::string_view text, const std::string& source) {
  try {
    toml::table t = toml::parse(text, source);
    Node root = convert(t, source);
    root.where = root.key_where = format_where(source, 1, 1);
    return root;
  } catch (const toml::parse_error& e) {
    throw ConfigError("TOML syntax error: " + std::string(e.description()), where_of(e.source(), source));
  }
}

}  // namespace

Node parse_toml_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("cannot open experiment file '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

Node parse_toml_text(const std::string& text, const std::string& source) { return parse(text, source); }

std::string Node::type_name() const {
  switch (kind) {
    case Kind::Table: return "table";
    case Kind::Array: return "array";
    case Kind::Scalar: return Value::type_name(scalar.type());
  }
  return "?";
}

const Node* Node::find(const std::string& key) const {
  if (kind != Kind::Table) return nullptr;
  auto it = fields.find(key);
  return it == fields.end() ? nullptr : &it->second;
}

Node* Node::find(const std::string& key) {
  if (kind != Kind::Table) return nullptr;
  auto it = fields.find(key);
  return it == fields.end() ? nullptr : &it->second;
}

std::string Node::plugin_name() const {
  const Node* p = find("plugin");
  if (!p || !p->is_scalar() || p->scalar.type() != Value::Type::String) return "";
  return p->scalar.as_string();
}

Value Node::to_value() const {
  switch (kind) {
    case Kind::Scalar: return scalar;
    case Kind::Array: {
      Value::List l;
      for (const auto& i : items) l.push_back(i.to_value());
      return Value(std::move(l));
    }
    case Kind::Table: {
      Value::Table t;
      for (const auto& [k, v] : fields) t.emplace(k, v.to_value());
      return Value(std::move(t));
    }
  }
  return Value();
}

void deep_merge(Node& base, const Node& overlay) {
  if (!base.is_table() || !overlay.is_table()) {
    base = overlay;
    return;
  }
  const std::string new_plugin = overlay.plugin_name();
  if (!new_plugin.empty() && new_plugin != base.plugin_name() && !base.plugin_name().empty()) {
    base = overlay;
    return;
  }
  for (const auto& [key, value] : overlay.fields) {
    auto it = base.fields.find(key);
    if (it == base.fields.end())
      base.fields.emplace(key, value);
    else
      deep_merge(it->second, value);
  }
  // The merged table now "comes from" the overlay where it says so: errors about the table as a
  // whole (a missing parameter) point at the file that last touched it.
  base.where = overlay.where;
  base.key_where = overlay.key_where;
}

}  // namespace xp::config
