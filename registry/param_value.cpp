#include "param_value.h"

#include <cmath>
#include <cstdlib>

namespace xp::registry {

std::optional<double> param_number(const std::string& value) {
  if (value == "true") return 1.0;
  if (value == "false") return 0.0;
  std::string digits;
  for (char c : value)
    if (c != '_') digits += c;  // TOML digit separators
  if (digits.empty() || digits.find_first_of("0123456789") == std::string::npos) return std::nullopt;
  const char* begin = digits.c_str();
  char* end = nullptr;
  double v = std::strtod(begin, &end);
  if (end != begin + digits.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string param_text(const std::string& value) {
  if (value.size() >= 2 && ((value.front() == '"' && value.back() == '"') ||
                            (value.front() == '\'' && value.back() == '\''))) {
    std::string inner = value.substr(1, value.size() - 2);
    if (value.front() == '\'') return inner;  // literal strings have no escapes
    std::string out;
    for (size_t i = 0; i < inner.size(); ++i) {
      if (inner[i] == '\\' && i + 1 < inner.size()) {
        char e = inner[++i];
        out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
      } else {
        out += inner[i];
      }
    }
    return out;
  }
  return value;
}

}  // namespace xp::registry
