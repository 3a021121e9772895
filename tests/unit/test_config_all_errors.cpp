// Validation collects every error (issue #25): each table, key and variant is checked, and a bare
// --set is scoped to the variants whose plugin has the parameter.
#include "xp/base/config_errors.h"
#include "test_config_support.h"

using xp::ExperimentOptions;
using xp::test::resolve;
using xp::test::resolve_error;
using xp::test::ScratchDir;

namespace {
size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("all errors: three mistakes in three tables are three errors, in file order") {
  ScratchDir dir;
  auto f = dir.write("e.toml", "[loss]\nplugin = \"test_constant\"\nvalu = 2.0\nmode = \"fansy\"\n[train]\nepohcs = 2\n");
  try {
    resolve(f);
    FAIL("no error");
  } catch (const xp::config::ConfigErrorList& e) {
    REQUIRE(e.errors().size() == 3);
    CHECK(std::string(e.errors()[0].what()).find("e.toml:3:1: unknown parameter 'valu'") != std::string::npos);
    CHECK(std::string(e.errors()[1].what()).find("e.toml:4:8: loss 'test_constant': 'mode' = \"fansy\"") !=
          std::string::npos);
    CHECK(std::string(e.errors()[2].what()).find("e.toml:6:1: unknown parameter 'epohcs' for [train]") !=
          std::string::npos);
    const std::string all = e.what();
    CHECK(count(all, "\nerror: ") == 2);  // main() prints the first "error: "
    CHECK(all.substr(all.size() - 9) == "\n3 errors");
  }
}

TEST_CASE("all errors: a mistake shared by every variant is reported once, one of some variants names them") {
  ScratchDir dir;
  auto f = dir.write("v.toml", R"(
[loss]
plugin = "test_constant"
[train]
epohcs = 2
[variants.a]
loss = { value = 200.0 }
[variants.b]
[variants.c]
loss = { value = 300.0 }
)");
  const std::string e = resolve_error(f);
  CHECK(count(e, "unknown parameter 'epohcs'") == 1);
  CHECK(e.find("'value' = 200.0 is out of range [0.0, 100.0] (variant a)") != std::string::npos);
  CHECK(e.find("'value' = 300.0 is out of range [0.0, 100.0] (variant c)") != std::string::npos);
  CHECK(e.find("3 errors") != std::string::npos);
}

TEST_CASE("all errors: the collector caps what it keeps and drops exact duplicates") {
  xp::config::ErrorCollector c(2);
  c.add(xp::ConfigError("one", "f:1:1"));
  c.add(xp::ConfigError("one", "f:1:1"));
  c.add(xp::ConfigError("two", "f:2:1"));
  c.add(xp::ConfigError("three", "f:3:1"));
  CHECK(c.errors().size() == 2);
  CHECK(c.size() == 3);
  CHECK_THROWS_WITH_AS(c.throw_if_any(), doctest::Contains("... and 1 more errors"), xp::ConfigError);
  xp::config::ErrorCollector single;
  single.add(xp::ConfigError("only", "f:1:1"));
  CHECK_THROWS_WITH_AS(single.throw_if_any(), "f:1:1: only", xp::ConfigError);
  xp::config::ErrorCollector none;
  CHECK_NOTHROW(none.throw_if_any());
}

TEST_CASE("all errors: --set per variant") {
  ScratchDir dir;
  auto f = dir.write("s.toml", R"(
[loss]
plugin = "test_constant"
[variants.z]
loss = { value = 4.0 }
[variants.a]
)");
  ExperimentOptions o;
  o.sets = {"variants.a.loss.value=7"};
  auto runs = resolve(f, o);
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].variant == "z");  // file order
  CHECK(runs[0].loss.get_float("value") == 4.0);
  CHECK(runs[1].loss.get_float("value") == 7.0);
  // The per-variant value wins over a bare one, whatever the order on the command line.
  o.sets = {"variants.z.loss.value=9", "loss.value=2"};
  runs = resolve(f, o);
  CHECK(runs[0].loss.get_float("value") == 9.0);
  CHECK(runs[1].loss.get_float("value") == 2.0);
  o.sets = {"variants.y.loss.value=1"};
  CHECK(resolve_error(f, o).find("--set variants.y.loss.value=1: --set: unknown variant 'y'") != std::string::npos);
  o.sets = {"variants.z=1"};
  CHECK(resolve_error(f, o).find("--set variants.NAME.KEY=VALUE sets KEY in one variant") != std::string::npos);
}
