#pragma once
// xp's one TOML writer. Every TOML file xp writes (resolved configs, the best config of a sweep,
// `xp validate --print`) is this canonical text of a Value::Table. For a resolved configuration
// it is what is hashed to identify a run. It depends only
// on the values, never on how the experiment was written (key order, spacing, comments, 1e-3 vs
// 0.001, `lr = 1` vs `lr = 1.0` for a float, inherited vs written, defaults written or omitted).

#include <map>
#include <string>

#include "xp/value.h"

namespace xp::config {

// TOML with keys sorted at every level: scalars and inline arrays first, then [sub.tables], then
// [[arrays.of.tables]]. Numbers use Value::to_string (shortest round-trip form).
std::string canonical_toml(const Value::Table& config);

// Every leaf by dotted path: "loss.gamma" -> "2.0", "augment.0.p" -> "0.5". Strings are unquoted,
// other values are in their canonical text; arrays of scalars are one leaf ("[0.9, 0.999]").
std::map<std::string, std::string> flatten(const Value::Table& config);

}  // namespace xp::config
