#pragma once
// Checks a table of a TOML file against a Schema and returns the values it describes: types
// converted (an integer where a float is expected becomes a float, so `lr = 1` and `lr = 1.0`
// resolve alike), defaults filled in, nested plugin tables and sections validated recursively,
// every mistake of the table reported at once (ConfigErrorList), each at its file:line:col.
// Experiments (a plugin's schema, [train]) and sweep files ([sweep]) both go through here, so a
// typo gets the same message and did-you-mean wherever it is made. Nested tables carry their
// position under kWhereKey so that Params::get_plugin()/get_section() can still point at the file.
//
// Torch-free: plugin schemas come from a PluginSchemas the caller passes (core adapts its plugin
// registry to it; a file that names no plugins passes no_plugins()).

#include <set>
#include <string>
#include <vector>

#include "xp/base/config_node.h"
#include "xp/params.h"
#include "xp/schema.h"

namespace xp::config {

inline constexpr const char* kWhereKey = "__where__";

// The schemas of the plugins a file may name, by kind ("loss") and name ("focal").
class PluginSchemas {
 public:
  virtual ~PluginSchemas() = default;
  virtual const Schema* find(const std::string& kind, const std::string& name) const = 0;
  virtual std::vector<std::string> names(const std::string& kind) const = 0;
};

// For files that name no plugins: every plugin table is "unknown".
const PluginSchemas& no_plugins();

// `label` names the table in messages: "loss 'focal'", "[train]". `path` is its dotted path in
// the file ("model", "train"), used to name nested sections ("[train.optimizer]"); when empty it
// is the label without brackets. Keys in `skip` are left to the caller (e.g. `plugin`).
Value::Table validate_params(const Node& table, const Schema& schema, const std::string& label,
                             const PluginSchemas& plugins, const std::set<std::string>& skip = {},
                             const std::string& path = "");

// A plugin table `{ plugin = "name", ... }` of `kind`. `path` is the table's dotted path
// ("loss", "augment[1]") for messages.
Params validate_plugin(const Node& table, const std::string& kind, const std::string& path,
                       const PluginSchemas& plugins);

// Removes every kWhereKey from a validated tree (for canonical output).
Value strip_where(const Value& v);

}  // namespace xp::config
