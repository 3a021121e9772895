// Sweep reports: ranking, the best configuration as a runnable experiment file, and the
// per-parameter summary.
#include <doctest/doctest.h>

#include <sstream>

#include "sweep_report.h"

using namespace xp::sweeps;
using xp::Value;

namespace {

TrialRecord done(int64_t n, TrialState s, std::optional<double> v, double gamma, const char* alpha) {
  TrialRecord t;
  t.number = n;
  t.state = s;
  t.value = v;
  t.params = {{"loss.gamma", Value(gamma)}, {"loss.alpha", Value(alpha)}};
  return t;
}

SweepConfig config() {
  return parse_sweep_text(R"toml(
[sweep]
experiment = "../exp.toml"
variant = "focal"
metric = "best_val_iou"
mode = "max"
trials = 10
[sweep.fixed]
"train.epochs" = 2
[space]
"loss.gamma" = { type = "uniform", low = 0.5, high = 5.0 }
"loss.alpha" = { type = "choice", values = ["a", "b"] }
)toml",
                          "/w/sweeps/s.toml");
}

}  // namespace

TEST_CASE("sweep report: complete trials rank by objective, then pruned, then the rest") {
  std::vector<TrialRecord> trials = {done(0, TrialState::Complete, 0.5, 1, "a"), done(1, TrialState::Failed, {}, 2, "a"),
                                     done(2, TrialState::Complete, 0.7, 3, "b"), done(3, TrialState::Pruned, {}, 4, "b"),
                                     done(4, TrialState::Pruned, {}, 4.5, "b")};
  trials[3].intermediate = {{1, 0.1}};
  trials[4].intermediate = {{1, 0.1}, {3, 0.2}};
  auto ranked = rank_trials(trials, Direction::Maximize);
  std::vector<int64_t> order;
  for (const auto& t : ranked) order.push_back(t.number);
  CHECK(order == std::vector<int64_t>{2, 0, 4, 3, 1});
  CHECK(best_trial(trials, Direction::Minimize)->number == 0);
  CHECK_FALSE(best_trial({trials[1]}, Direction::Maximize));
}

TEST_CASE("sweep report: the best configuration extends the experiment with nested tables") {
  auto c = config();
  auto toml = best_config_toml(c, done(2, TrialState::Complete, 0.7, 3.25, "b"), "sw-1");
  CHECK(toml.find("extends = \"/w/exp.toml\"") != std::string::npos);
  CHECK(toml.find("[loss]\nalpha = \"b\"\ngamma = 3.25\n") != std::string::npos);
  CHECK(toml.find("[train]\nepochs = 2\n") != std::string::npos);
  CHECK(toml.find("--variant focal") != std::string::npos);
  auto cmd = trial_command_line(c, done(2, TrialState::Complete, 0.7, 3.25, "b"));
  CHECK(cmd.find("--set 'loss.gamma=3.25'") != std::string::npos);
  CHECK(cmd.find("--set 'loss.alpha=\"b\"'") != std::string::npos);
}

TEST_CASE("sweep report: spearman and the per-parameter summary") {
  CHECK(*spearman({1, 2, 3, 4}, {10, 20, 30, 40}) == doctest::Approx(1.0));
  CHECK(*spearman({1, 2, 3, 4}, {4, 3, 2, 1}) == doctest::Approx(-1.0));
  CHECK_FALSE(spearman({1, 2}, {1, 2}));
  CHECK_FALSE(spearman({1, 1, 1}, {1, 2, 3}));
  auto c = config();
  std::vector<TrialRecord> trials = {done(0, TrialState::Complete, 0.1, 1, "a"), done(1, TrialState::Complete, 0.2, 2, "a"),
                                     done(2, TrialState::Complete, 0.4, 3, "b"), done(3, TrialState::Complete, 0.5, 4, "b")};
  std::ostringstream os;
  print_parameter_summary(os, trials, c);
  CHECK(os.str().find("spearman(loss.gamma, best_val_iou) = 1") != std::string::npos);
  CHECK(os.str().find("best 4") != std::string::npos);
  // The per-parameter table: header, then one row per choice / numeric value.
  CHECK(os.str().find("parameter   value  trials  mean best_val_iou  best best_val_iou") != std::string::npos);
  CHECK(os.str().find("loss.alpha  \"a\"    2       0.15               0.2") != std::string::npos);
  CHECK(os.str().find("loss.gamma  1      1       0.1                0.1") != std::string::npos);
  std::ostringstream table;
  print_trial_table(table, rank_trials(trials, Direction::Maximize), c);
  CHECK(table.str().find("rank") == 0);
  CHECK(state_counts(trials) == "4 complete");
}

TEST_CASE("sweep report: parameter buckets (choices as they are, numbers in quantile bins)") {
  auto c = config();
  const Dimension& gamma = c.space.dimensions()[c.space.dimensions()[0].key == "loss.gamma" ? 0 : 1];
  const Dimension& alpha = c.space.dimensions()[c.space.dimensions()[0].key == "loss.gamma" ? 1 : 0];
  REQUIRE(gamma.key == "loss.gamma");
  // 8 completed trials, gamma 1..8, objective = gamma / 10; a failed and a pruned one do not count.
  std::vector<TrialRecord> trials;
  for (int i = 1; i <= 8; ++i) trials.push_back(done(i, TrialState::Complete, i / 10.0, i, "a"));
  trials.push_back(done(9, TrialState::Failed, {}, 9, "b"));
  trials.push_back(done(10, TrialState::Pruned, {}, 9, "b"));

  auto bins = parameter_buckets(trials, gamma, Direction::Maximize);
  REQUIRE(bins.size() == 4);  // 8 distinct values > 4 bins: quartiles of 2 trials each
  CHECK(bins[0].label == "[1, 2]");
  CHECK(bins[0].trials == 2);
  CHECK(*bins[0].mean == doctest::Approx(0.15));
  CHECK(*bins[0].best == doctest::Approx(0.2));
  CHECK(bins[3].label == "[7, 8]");
  CHECK(*parameter_buckets(trials, gamma, Direction::Minimize)[3].best == doctest::Approx(0.7));

  // Ties never straddle a bin: six trials at gamma 2 and two at 5 make two bins.
  std::vector<TrialRecord> tied;
  for (int i = 0; i < 8; ++i) tied.push_back(done(i, TrialState::Complete, i, i < 6 ? 2.0 : 5.0, "a"));
  tied.push_back(done(8, TrialState::Complete, 8, 1.0, "a"));
  tied.push_back(done(9, TrialState::Complete, 9, 3.0, "a"));
  tied.push_back(done(10, TrialState::Complete, 10, 4.0, "a"));
  auto t = parameter_buckets(tied, gamma, Direction::Maximize);  // values 1, 2 x6, 3, 4, 5 x2: 5 distinct
  int64_t total = 0;
  for (const auto& b : t) total += b.trials;
  CHECK(total == 11);
  CHECK(t.size() <= 4);
  for (const auto& b : t) CHECK(b.label != "[2, 2]");
  CHECK(t[0].label == "[1, 2]");
  CHECK(t[0].trials == 7);

  // Few distinct numbers: one bucket per value. Choices keep their order; unused ones are empty.
  auto few = parameter_buckets({done(0, TrialState::Complete, 0.3, 2, "b"), done(1, TrialState::Complete, 0.5, 2, "b"),
                                done(2, TrialState::Complete, 0.1, 4.5, "b")},
                               gamma, Direction::Maximize);
  REQUIRE(few.size() == 2);
  CHECK(few[0].label == "2");
  CHECK(few[0].trials == 2);
  CHECK(few[1].label == "4.5");
  auto choices = parameter_buckets(trials, alpha, Direction::Maximize);
  REQUIRE(choices.size() == 2);
  CHECK(choices[0].label == "\"a\"");
  CHECK(choices[0].trials == 8);
  CHECK(choices[1].label == "\"b\"");
  CHECK(choices[1].trials == 0);
  CHECK_FALSE(choices[1].mean);
}
