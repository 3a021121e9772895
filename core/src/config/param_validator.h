#pragma once
// Checks a table of the experiment against a Schema (a plugin's, or the engine's [train]) and
// returns the values a plugin is constructed with: types converted (an integer where a float is
// expected becomes a float, so `lr = 1` and `lr = 1.0` resolve alike), defaults filled in, nested
// plugin tables and sections validated recursively. Nested tables carry their position under
// kWhereKey so that Params::get_plugin()/get_section() can still point at the file.

#include <set>
#include <string>

#include "config/config_node.h"
#include "xp/params.h"
#include "xp/plugin_registry.h"
#include "xp/schema.h"

namespace xp::config {

inline constexpr const char* kWhereKey = "__where__";

// `label` names the table in messages: "loss 'focal'", "[train]". `path` is its dotted path in
// the file ("model", "train"), used to name nested sections ("[train.optimizer]"); when empty it
// is the label without brackets. Keys in `skip` are left to the caller (e.g. `plugin`).
Value::Table validate_params(const Node& table, const Schema& schema, const std::string& label,
                             const std::set<std::string>& skip = {}, const std::string& path = "");

// A plugin table `{ plugin = "name", ... }` of `kind`, looked up in `registry`. `path` is the
// table's dotted path ("loss", "augment[1]") for messages.
Params validate_plugin(const Node& table, const std::string& kind, const std::string& path,
                       const PluginRegistry& registry = PluginRegistry::instance());

// Removes every kWhereKey from a validated tree (for canonical output).
Value strip_where(const Value& v);

}  // namespace xp::config
