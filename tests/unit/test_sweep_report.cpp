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
  CHECK(os.str().find("\"a\"=0.15 (n=2)") != std::string::npos);
  CHECK(os.str().find("best 4") != std::string::npos);
  std::ostringstream table;
  print_trial_table(table, rank_trials(trials, Direction::Maximize), c);
  CHECK(table.str().find("rank") == 0);
  CHECK(state_counts(trials) == "4 complete");
}
