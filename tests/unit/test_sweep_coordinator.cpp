// What the coordinator hands to `xp run` and checks before starting: the --set overrides of a
// trial, and the preflight set that touches every choice and both ends of every range.
#include <doctest/doctest.h>

#include <algorithm>

#include "sweep_coordinator.h"
#include "sweep_config.h"

using namespace xp::sweeps;

TEST_CASE("sweep coordinator: trial overrides and the preflight set") {
  auto c = parse_sweep_text(R"toml(
[sweep]
experiment = "e.toml"
metric = "m"
mode = "min"
trials = 5
[sweep.fixed]
"train.epochs" = 2
[space]
"loss.alpha" = { type = "choice", values = [0.25, 0.75, "auto"] }
"train.optimizer.lr" = { type = "loguniform", low = 1e-4, high = 1e-2 }
"model.width" = { type = "int", low = 8, high = 32, step = 8 }
)toml",
                            "/w/s.toml");
  auto sets = trial_overrides(c, {{"loss.alpha", xp::Value("auto")}, {"model.width", xp::Value(int64_t{16})}});
  CHECK(sets == std::vector<std::string>{"train.epochs=2", "loss.alpha=\"auto\"", "model.width=16"});

  auto pre = preflight_overrides(c);
  // The base point, two more choices, the top of the lr range and the top of the width range.
  REQUIRE(pre.size() == 5);
  auto has = [&](const std::string& s) {
    return std::any_of(pre.begin(), pre.end(),
                       [&](const auto& v) { return std::find(v.begin(), v.end(), s) != v.end(); });
  };
  CHECK(has("loss.alpha=0.25"));
  CHECK(has("loss.alpha=\"auto\""));
  CHECK(has("model.width=8"));
  CHECK(has("model.width=32"));
  CHECK(has("train.epochs=2"));
  for (const auto& v : pre) CHECK(v.size() == 4);
}
