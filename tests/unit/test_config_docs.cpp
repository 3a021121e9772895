// docs/experiments.md documents every [train] key with its type and default: keep it true when
// the engine's schema grows.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "engine/train_schema.h"

namespace {

std::string read_doc() {
  std::ifstream in(std::string(XP_SOURCE_DIR) + "/docs/experiments.md");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void expect_rows(const std::string& doc, const xp::Schema& schema, const std::string& prefix) {
  for (const auto& p : schema.params()) {
    const bool list = p.type == xp::ParamType::SectionList;
    const std::string key = prefix + p.name + (list ? "[]" : "");
    std::string row = "| `" + key + "` | " + xp::param_type_name(p.type) + " | ";
    if (p.type != xp::ParamType::Section) row += "`" + p.default_value.to_string() + "`";
    INFO("docs/experiments.md lacks the row starting: " << row);
    CHECK(doc.find(row) != std::string::npos);
    if (p.section) expect_rows(doc, *p.section, key + ".");
  }
}

}  // namespace

TEST_CASE("docs: every [train] key is in docs/experiments.md with its type and default") {
  const std::string doc = read_doc();
  REQUIRE_FALSE(doc.empty());
  expect_rows(doc, xp::engine::train_schema(), "train.");
}
