// Search spaces and sweep files: lazy grids, random draws that honour log scales and int steps,
// and sweep-file errors that point at file:line:col.
#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "search_space.h"
#include "sweep_config.h"
#include "xp/errors.h"

using namespace xp::sweeps;
using xp::Value;

namespace {

Dimension choice(const std::string& key, std::vector<Value> values) {
  Dimension d;
  d.key = key;
  d.type = DimensionType::Choice;
  d.values = std::move(values);
  return d;
}

Dimension range(const std::string& key, DimensionType type, double low, double high, int64_t step = 1,
                int64_t grid_points = 0) {
  Dimension d;
  d.key = key;
  d.type = type;
  d.low = low;
  d.high = high;
  d.step = step;
  d.grid_points = grid_points;
  return d;
}

const char* kSweep = R"toml(
[sweep]
experiment = "../focal_vs_tversky.toml"
variant = "focal"
method = "tpe"
metric = "best_val_iou"
mode = "max"
trials = 20
max_minutes = 10
seeds = [42, 43]
[sweep.early_stopping]
method = "asha"
metric = "val_iou"
min_epochs = 1
reduction_factor = 3
[sweep.fixed]
"train.epochs" = 3
[space]
"loss.gamma" = { type = "uniform", low = 0.5, high = 5.0 }
"loss.alpha" = { type = "choice", values = [0.1, 0.25, 0.5, 0.75] }
"train.optimizer.lr" = { type = "loguniform", low = 1e-4, high = 1e-2 }
model.width = { type = "int", low = 16, high = 64, step = 16 }
)toml";

std::string error_of(const std::string& text) {
  try {
    parse_sweep_text(text, "/tmp/exp/sweeps/s.toml");
  } catch (const xp::ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("sweep space: the grid enumerates every combination exactly once, computed from the index") {
  SearchSpace space({choice("a", {Value("x"), Value("y"), Value("z")}),
                     range("b", DimensionType::Int, 1, 7, 2),  // 1 3 5 7
                     range("c", DimensionType::Uniform, 0.0, 1.0, 1, 3)});
  REQUIRE(space.grid_size() == 3 * 4 * 3);
  std::set<std::string> seen;
  for (uint64_t i = 0; i < space.grid_size(); ++i) {
    auto p = space.grid_point(i);
    seen.insert(p.at("a").to_string() + "|" + p.at("b").to_string() + "|" + p.at("c").to_string());
  }
  CHECK(seen.size() == 36);
  CHECK(seen.count("\"x\"|1|0.0"));
  CHECK(seen.count("\"z\"|7|1.0"));
  CHECK(seen.count("\"y\"|5|0.5"));
  // The last dimension varies fastest.
  CHECK(space.grid_point(0).at("c") == Value(0.0));
  CHECK(space.grid_point(1).at("c") == Value(0.5));
}

TEST_CASE("sweep space: a huge grid is indexable without expanding it") {
  std::vector<Dimension> dims;
  for (int i = 0; i < 9; ++i) dims.push_back(range("d" + std::to_string(i), DimensionType::Int, 0, 99));
  SearchSpace space(dims);
  CHECK(space.grid_size() == 1000000000000000000ull);
  auto p = space.grid_point(space.grid_size() - 1);
  for (const auto& [k, v] : p) CHECK(v == Value(int64_t{99}));
  // 100^9 * 1000^3 overflows 64 bits: refused with the dimension's name.
  for (int i = 9; i < 12; ++i) dims.push_back(range("d" + std::to_string(i), DimensionType::Int, 0, 999));
  CHECK_THROWS_WITH_AS(SearchSpace(dims).grid_size(), doctest::Contains("2^64"), xp::ConfigError);
}

TEST_CASE("sweep space: float ranges need grid_points on a grid; log grids are geometric") {
  CHECK_THROWS_WITH_AS(SearchSpace({range("lr", DimensionType::LogUniform, 1e-4, 1e-2)}).grid_size(),
                       doctest::Contains("grid_points"), xp::ConfigError);
  auto values = range("lr", DimensionType::LogUniform, 1e-4, 1e-2, 1, 3).grid_values();
  REQUIRE(values.size() == 3);
  CHECK(values[0].as_float() == doctest::Approx(1e-4));
  CHECK(values[1].as_float() == doctest::Approx(1e-3));
  CHECK(values[2].as_float() == doctest::Approx(1e-2));
  auto ints = range("w", DimensionType::IntLog, 1, 1000, 1, 4).grid_values();
  REQUIRE(ints.size() == 4);
  CHECK(ints[1] == Value(int64_t{10}));
  CHECK(ints[3] == Value(int64_t{1000}));
}

TEST_CASE("sweep space: random draws stay in bounds, honour steps and spread evenly in log space") {
  auto lr = range("lr", DimensionType::LogUniform, 1e-5, 1e-1);
  auto width = range("w", DimensionType::Int, 8, 64, 8);
  auto depth = range("d", DimensionType::IntLog, 1, 100);
  xp::Rng rng(7);
  int decades[4] = {0, 0, 0, 0};
  std::set<int64_t> widths;
  int small_depth = 0;
  const int n = 8000;
  for (int i = 0; i < n; ++i) {
    double x = lr.sample(rng).as_float();
    REQUIRE(x >= 1e-5);
    REQUIRE(x <= 1e-1);
    decades[std::min(3, static_cast<int>(std::floor(std::log10(x) + 5)))]++;
    int64_t w = width.sample(rng).as_int();
    REQUIRE(w % 8 == 0);
    widths.insert(w);
    int64_t d = depth.sample(rng).as_int();
    REQUIRE(d >= 1);
    REQUIRE(d <= 100);
    small_depth += d <= 10;
  }
  // Log-uniform: each decade gets about a quarter of the draws (uniform would put 90% in the last).
  for (int k = 0; k < 4; ++k) CHECK(std::abs(decades[k] - n / 4) < n / 20);
  CHECK(widths == std::set<int64_t>{8, 16, 24, 32, 40, 48, 56, 64});
  // int_log over [1, 100]: about half the mass below 10.
  CHECK(std::abs(small_depth - n / 2) < n / 10);
}

TEST_CASE("sweep config: a full sweep file parses with paths relative to it") {
  auto c = parse_sweep_text(kSweep, "/tmp/exp/sweeps/s.toml");
  CHECK(c.experiment == std::filesystem::path("/tmp/exp/focal_vs_tversky.toml"));
  CHECK(c.variant == "focal");
  CHECK(c.method == "tpe");
  CHECK(c.direction == Direction::Maximize);
  CHECK(c.trials == 20);
  CHECK(c.max_minutes == doctest::Approx(10));
  CHECK(c.seeds == std::vector<int64_t>{42, 43});
  CHECK(c.pruner.method == "asha");
  CHECK(c.pruner.metric == "val_iou");
  CHECK(c.pruner.reduction_factor == 3);
  CHECK(c.fixed.at("train.epochs") == Value(int64_t{3}));
  REQUIRE(c.space.dimensions().size() == 4);
  const auto* alpha = c.space.find("loss.alpha");
  REQUIRE(alpha);
  CHECK(alpha->values.size() == 4);
  const auto* width = c.space.find("model.width");  // a nested table works like a dotted key
  REQUIRE(width);
  CHECK(width->step == 16);
  CHECK(c.space.find("train.optimizer.lr")->is_log());
}

TEST_CASE("sweep config: errors name file:line:col and suggest the closest name") {
  std::string base = "[sweep]\nexperiment = \"e.toml\"\nmetric = \"m\"\nmode = \"max\"\ntrials = 3\n";
  auto e = error_of(base + "[space]\n\"loss.gamma\" = { type = \"unifrom\", low = 0.5, high = 5.0 }\n");
  CHECK(e.find("s.toml:7:") != std::string::npos);
  CHECK(e.find("did you mean 'uniform'") != std::string::npos);

  e = error_of(base + "metod = \"tpe\"\n[space]\na = { type = \"uniform\", low = 0, high = 1 }\n");
  CHECK(e.find("s.toml:6:1") != std::string::npos);
  CHECK(e.find("did you mean 'method'") != std::string::npos);

  e = error_of(base + "method = \"tpee\"\n[space]\na = { type = \"uniform\", low = 0, high = 1 }\n");
  CHECK(e.find("'tpe'") != std::string::npos);

  e = error_of(base + "[space]\na = { type = \"uniform\", low = 2, hihg = 1 }\n");
  CHECK(e.find("did you mean 'high'") != std::string::npos);

  e = error_of(base + "[space]\na = { type = \"uniform\", low = 2, high = 1 }\n");
  CHECK(e.find("high must be greater than low") != std::string::npos);

  e = error_of(base + "[space]\na = { type = \"loguniform\", low = 0, high = 1 }\n");
  CHECK(e.find("log scale") != std::string::npos);

  e = error_of(base + "[space]\na = { type = \"int\", low = 0, high = 10, step = 3 }\n");
  CHECK(e.find("multiple of step") != std::string::npos);

  e = error_of(base + "method = \"grid\"\n[space]\na = { type = \"uniform\", low = 0, high = 1 }\n");
  CHECK(e.find("grid_points") != std::string::npos);

  e = error_of("[sweep]\nexperiment = \"e.toml\"\nmetric = \"m\"\nmode = \"max\"\n[space]\na = { type = \"int\", low = 0, high = 1 }\n");
  CHECK(e.find("budget") != std::string::npos);

  e = error_of(base + "[space]\na = { type = \"choice\", values = [1, 2, 1] }\n");
  CHECK(e.find("twice") != std::string::npos);

  e = error_of("[sweep]\nexperiment = \"e.toml\"\n[space\n");
  CHECK(e.find("s.toml:3:") != std::string::npos);

  e = error_of(base + "[sweep.early_stopping]\nmethod = \"hyperband\"\n[space]\na = { type = \"int\", low = 0, high = 1 }\n");
  CHECK(e.find("[sweep.early_stopping]: 'method' = \"hyperband\" is not one of") != std::string::npos);
}

TEST_CASE("sweep config: checked by the experiment schema machinery, every mistake at once") {
  // Three independent mistakes (a misspelt [sweep] key, a wrong type in a section, a bad space entry)
  // come back together, each at its own line, as an experiment file's would.
  auto e = error_of(
      "[sweep]\nexperiment = \"e.toml\"\nmetric = \"m\"\nmode = \"max\"\ntrials = 3\nworkrs = 2\n"
      "[sweep.tpe]\nn_startup_trials = \"ten\"\n"
      "[space]\na = { type = \"uniform\", low = 0, hihg = 1 }\n");
  CHECK(e.find("s.toml:6:1: unknown parameter 'workrs' for [sweep]") != std::string::npos);
  CHECK(e.find("did you mean 'workers'") != std::string::npos);
  CHECK(e.find("s.toml:8:20: [sweep.tpe]: 'n_startup_trials' must be int") != std::string::npos);
  CHECK(e.find("s.toml:10:") != std::string::npos);
  CHECK(e.find("did you mean 'high'") != std::string::npos);
  // Ranges and types come from the schema too: a negative retry count, a fractional worker count.
  std::string base = "[sweep]\nexperiment = \"e.toml\"\nmetric = \"m\"\nmode = \"max\"\ntrials = 3\n";
  std::string space = "[space]\na = { type = \"int\", low = 0, high = 1 }\n";
  CHECK(error_of(base + "max_retries = -1\n" + space).find("out of range") != std::string::npos);
  CHECK(error_of(base + "workers = 1.5\n" + space).find("'workers' must be int") != std::string::npos);
  CHECK(error_of(base + "lease_seconds = nan\n" + space).find("must be a finite number") != std::string::npos);
  CHECK(error_of(base + "[extra]\n" + space).find("unknown table 'extra'") != std::string::npos);
  // Defaults come from the option structs: a minimal file gets exactly them.
  auto c = parse_sweep_text(base + space, "/tmp/exp/sweeps/s.toml");
  CHECK(c.tpe.n_startup_trials == xp::sweeps::TpeOptions{}.n_startup_trials);
  CHECK(c.pruner.method == "none");
  CHECK(c.lease_seconds == doctest::Approx(xp::sweeps::SweepConfig{}.lease_seconds));
}

TEST_CASE("sweep config: grid budget is capped by the grid size") {
  std::string text =
      "[sweep]\nexperiment = \"e.toml\"\nmetric = \"m\"\nmode = \"min\"\nmethod = \"grid\"\n[space]\n"
      "a = { type = \"choice\", values = [1, 2, 3] }\nb = { type = \"int\", low = 1, high = 2 }\n";
  CHECK(parse_sweep_text(text, "g.toml").max_trials() == 6);
  CHECK(parse_sweep_text(text + "", "g.toml").trials == std::nullopt);
}
