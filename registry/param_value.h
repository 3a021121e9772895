#pragma once
// How a flattened config value ("2.0", "true", "\"focal\"") is stored so that queries can compare
// it as a number or as text.
#include <optional>
#include <string>

namespace xp::registry {

// The number a value denotes: TOML integers and floats (1_000, 2e-3, inf, nan excluded) and
// booleans as 1/0. std::nullopt for text.
std::optional<double> param_number(const std::string& value);

// The value as text for display and string comparison: a TOML basic/literal string loses its
// quotes ("\"focal\"" -> "focal"); everything else is kept as written.
std::string param_text(const std::string& value);

}  // namespace xp::registry
