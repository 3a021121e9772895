#pragma once
// xp::Value <-> TOML text, for sweep parameters: the store keeps values as TOML so integers stay
// integers and strings stay quoted, and `xp run --set key=VALUE` reads the same text back.

#include <string>

#include <toml++/toml.h>

#include "xp/value.h"

namespace xp {

Value value_from_toml(const toml::node& node);  // throws ConfigError at the node for dates/times
Value parse_toml_value(const std::string& text);  // "2.5", "\"focal\"", "[1, 2]"

}  // namespace xp
