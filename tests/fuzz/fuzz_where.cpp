// Fuzz target: `xp runs --where` expressions (registry/where_expr). Any text either compiles to a
// parameterized SQL condition or is refused with xp::ConfigError; nothing else may escape.
#include <cstddef>
#include <cstdint>
#include <string>

#include "where_expr.h"
#include "xp/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto sql = xp::registry::compile_where(text);
    // Every user value is bound: placeholders and arguments must agree.
    size_t placeholders = 0;
    bool in_quote = false;
    for (char c : sql.sql) {
      if (c == '\'') in_quote = !in_quote;
      if (c == '?' && !in_quote) ++placeholders;
    }
    if (placeholders != sql.args.size()) __builtin_trap();
  } catch (const xp::ConfigError&) {
  }
  try {
    xp::registry::field_value_sql(text);
  } catch (const xp::ConfigError&) {
  }
  return 0;
}
