#pragma once
// The experiment file as a tree that remembers where every key and value came from. toml++ drops
// source positions when nodes are copied, and extends/variants/--set all copy and merge, so the
// resolver converts each parsed file into this tree once and works on it from then on.

#include <map>
#include <string>
#include <vector>

#include "xp/value.h"

namespace xp::config {

struct Node {
  enum class Kind { Scalar, Array, Table };

  Kind kind = Kind::Table;
  Value scalar;                      // Bool, Int, Float or String when kind == Scalar
  std::vector<Node> items;           // kind == Array
  std::map<std::string, Node> fields;  // kind == Table
  std::string where;                 // "file:line:col" of the value (or "--set k=v")
  std::string key_where;             // "file:line:col" of the key that names it

  bool is_table() const { return kind == Kind::Table; }
  bool is_array() const { return kind == Kind::Array; }
  bool is_scalar() const { return kind == Kind::Scalar; }
  // "table", "array", or the scalar's type ("integer", "float", ...), for messages.
  std::string type_name() const;

  const Node* find(const std::string& key) const;
  Node* find(const std::string& key);
  // The table's `plugin` string, or "" when there is none.
  std::string plugin_name() const;

  // Plain value (no positions), for canonical output and free-form Table params.
  Value to_value() const;
};

// Parses a TOML file / text. `source` is the name used in positions (the path as the user wrote
// it, or "--set k=v"). Syntax errors become xp::ConfigError at the parser's file:line:col; dates and
// times have no place in an experiment and are refused with their position.
Node parse_toml_file(const std::string& path);
Node parse_toml_text(const std::string& text, const std::string& source);

// Deep merge: `overlay` wins. Tables merge key by key, except that a table naming a different
// `plugin` than the one it lands on replaces it (the old plugin's parameters mean nothing to the
// new one). Arrays and scalars replace.
void deep_merge(Node& base, const Node& overlay);

// "file:line:col" from a toml++ source region.
std::string format_where(const std::string& path, unsigned line, unsigned column);

}  // namespace xp::config
