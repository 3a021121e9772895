#pragma once
// xp::Value <-> TOML text, for sweep parameters: the store keeps values as TOML (Value::to_string)
// so integers stay integers and strings stay quoted, and `xp run --set key=VALUE` reads the same
// text back. Parsing goes through the one TOML -> Value conversion (xp/base/config_node.h).

#include <string>

#include "xp/value.h"

namespace xp {

Value parse_toml_value(const std::string& text);  // "2.5", "\"focal\"", "[1, 2]"

}  // namespace xp
