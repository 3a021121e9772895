#include "xp/base/toml_value.h"

#include <stdexcept>

#include "xp/base/config_node.h"
#include "xp/errors.h"

namespace xp {

Value parse_toml_value(const std::string& text) {
  try {
    const config::Node doc = config::parse_toml_text("v = " + text, "<value>");
    return doc.find("v")->to_value();
  } catch (const ConfigError& e) {
    throw std::runtime_error("not a TOML value: '" + text + "': " + e.what());
  }
}

}  // namespace xp
