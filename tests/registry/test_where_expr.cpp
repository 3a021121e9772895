// `xp runs --where`: parsing, SQL semantics over a real registry, errors with positions, injection.
#include <doctest/doctest.h>

#include <algorithm>

#include "pg_test_server.h"
#include "sqlite_db.h"
#include "test_registry_support.h"
#include "where_expr.h"
#include "xp/errors.h"

using namespace xp;

namespace {

std::string error_of(const std::string& expr) {
  try {
    registry::compile_where(expr);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

struct Fixture {
  explicit Fixture(const std::string& location) : reg(location) { fill(); }
  RunRegistry reg;
  std::string ce1, ce2, focal1, focal2, failed;
  void fill() {
    ce1 = registry_test::record_run(reg, "seg", "ce", 1, 0.80, {{"loss.name", "\"ce\""}, {"train.lr", "0.1"}});
    ce2 = registry_test::record_run(reg, "seg", "ce", 2, 0.82, {{"loss.name", "\"ce\""}, {"train.lr", "0.1"}});
    focal1 = registry_test::record_run(reg, "seg", "focal", 1, 0.86,
                              {{"loss.name", "\"focal\""}, {"loss.gamma", "2.0"}, {"train.lr", "1e-2"}});
    focal2 = registry_test::record_run(reg, "seg", "focal", 2, 0.88,
                              {{"loss.name", "\"focal\""}, {"loss.gamma", "3"}, {"train.lr", "1e-2"}});
    failed = registry_test::record_run(reg, "other", "focal", 1, 0.5, {{"loss.gamma", "2.0"}}, RunStatus::Failed);
    reg.set_tag(focal2, "sweep", "s1");
  }
  std::vector<std::string> ids(const std::string& where) {
    RunQuery q;
    q.where = where;
    q.sort = "id";
    std::vector<std::string> out;
    for (const auto& r : reg.list_runs(q)) out.push_back(r.id);
    std::sort(out.begin(), out.end());
    return out;
  }
};

}  // namespace

TEST_CASE("where: comparisons on fields, params, tags and metrics") {
  registry_test::ScratchDir dir;
  XP_EACH_REGISTRY_BACKEND(location, dir.path / "registry.db");
  Fixture f(location);
  auto V = [](std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  CHECK(f.ids("variant = 'focal' and experiment = 'seg'") == V({f.focal1, f.focal2}));
  CHECK(f.ids("variant = 'focal' and params.loss.gamma >= 2 and metrics.test_acc > 0.86") == V({f.focal2}));
  CHECK(f.ids("params.loss.gamma >= 2") == V({f.focal1, f.focal2, f.failed}));
  CHECK(f.ids("params.train.lr = 0.01") == V({f.focal1, f.focal2}));  // "1e-2" is the number 0.01
  CHECK(f.ids("params.loss.name = 'focal'") == V({f.focal1, f.focal2}));  // TOML quotes are not part of the value
  CHECK(f.ids("metrics.val_acc < 0.81") == V({f.ce1, f.failed}));  // final epoch value
  CHECK(f.ids("status != 'finished'") == V({f.failed}));
  CHECK(f.ids("tags.sweep = 's1'") == V({f.focal2}));
  CHECK(f.ids("seed = 2 or (variant = 'ce' and not seed = 2)") == V({f.ce1, f.ce2, f.focal2}));
  CHECK(f.ids("not (variant like 'f%')") == V({f.ce1, f.ce2}));
  CHECK(f.ids("variant NOT LIKE 'f%'") == V({f.ce1, f.ce2}));
  CHECK(f.ids("0.85 < metrics.val_acc") == V({f.focal1, f.focal2}));  // literal on the left flips the operator
  CHECK(f.ids("id = '" + f.ce2 + "'") == V({f.ce2}));
  CHECK(f.ids("start > 0 and duration >= 0") == V({f.ce1, f.ce2, f.focal1, f.focal2, f.failed}));
  CHECK(f.ids("start >= '2000-01-01'").size() == 5);
  CHECK(f.ids("`params.loss.gamma` == 3").size() == 1);
  // The same meaning on both backends: LIKE ignores case, a seed compares with a fraction, a tag
  // that is not a number matches no numeric comparison.
  CHECK(f.ids("variant like 'F%'") == V({f.focal1, f.focal2, f.failed}));
  CHECK(f.ids("seed < 1.5") == V({f.ce1, f.focal1, f.failed}));
  f.reg.set_tag(f.ce1, "sweep", "7");
  CHECK(f.ids("tags.sweep > 5") == V({f.ce1}));
  // Sorting by a param: numbers by value, runs without it last.
  RunQuery q;
  q.sort = "-params.loss.gamma";
  std::vector<std::string> order;
  for (const auto& r : f.reg.list_runs(q)) order.push_back(r.id);
  REQUIRE(order.size() == 5);
  CHECK(order[0] == f.focal2);
  CHECK(V({order[1], order[2]}) == V({f.focal1, f.failed}));
  CHECK(V({order[3], order[4]}) == V({f.ce1, f.ce2}));
}

TEST_CASE("where: bad expressions name the column and point at it") {
  std::string e = error_of("variant = 'focal' and experimnt = 'x'");
  CHECK(e.find("column 23") != std::string::npos);
  CHECK(e.find("did you mean 'experiment'") != std::string::npos);
  CHECK(e.find("\n  variant = 'focal' and experimnt = 'x'\n                        ^") != std::string::npos);

  CHECK(error_of("variant = ").find("expected a value") != std::string::npos);
  CHECK(error_of("variant focal").find("expected an operator") != std::string::npos);
  CHECK(error_of("variant = focal").find("quote text values") != std::string::npos);
  CHECK(error_of("(seed = 1").find("expected ')'") != std::string::npos);
  CHECK(error_of("seed = 1)").find("column 9") != std::string::npos);
  CHECK(error_of("variant = 'open").find("unterminated string") != std::string::npos);
  CHECK(error_of("status = 'finsihed'").find("did you mean 'finished'") != std::string::npos);
  CHECK(error_of("metrics.acc > 'high'").find("metrics are numbers") != std::string::npos);
  CHECK(error_of("seed = 1 ; drop table runs").find("unexpected character ';'") != std::string::npos);
  CHECK(error_of("").find("empty expression") != std::string::npos);
  CHECK(error_of("seed = 1 and").find("expression ends") != std::string::npos);
  CHECK(error_of("seed = 1.2.3").find("not a number") != std::string::npos);
}

TEST_CASE("where: injection attempts are values, never SQL") {
  registry_test::ScratchDir dir;
  XP_EACH_REGISTRY_BACKEND(location, dir.path / "registry.db");
  Fixture f(location);
  // Unquoted SQL after a closed string is a syntax error of the expression: nothing runs.
  CHECK_THROWS_AS(f.ids("variant = ''; drop table runs; --'"), ConfigError);
  // Inside a string ('' is a quote) it is just a value that matches nothing.
  CHECK(f.ids("variant = '''; drop table runs; --'").empty());
  CHECK(f.ids("params.loss.name = 'x'' or 1=1 --'").empty());
  CHECK(f.ids("tags.sweep = '\"; delete from tags; --'").empty());
  // A quoted field name is a name: one no run has is refused before any SQL runs.
  CHECK_THROWS_AS(f.ids("`params.x') or 1=1 --` = 1"), ConfigError);
  auto sql = registry::compile_where("variant = '''; drop table runs; --'");
  CHECK(sql.sql.find("drop") == std::string::npos);
  REQUIRE(sql.args.size() == 1);
  CHECK(std::get<std::string>(sql.args[0]) == "'; drop table runs; --");
  // Everything is still there.
  CHECK(f.ids("seed >= 0").size() == 5);
  CHECK(f.ids("tags.sweep = 's1'").size() == 1);
}
