// Pruners: ASHA's rung promotion and the median rule, on hand-made trial histories.
#include <doctest/doctest.h>

#include "asha_pruner.h"
#include "median_pruner.h"
#include "pruner.h"

using namespace xp::sweeps;

namespace {

TrialRecord trial(int64_t number, std::map<int64_t, double> values, TrialState state = TrialState::Running) {
  TrialRecord t;
  t.number = number;
  t.state = state;
  t.intermediate = std::move(values);
  if (state == TrialState::Complete) t.value = t.intermediate.rbegin()->second;
  return t;
}

}  // namespace

TEST_CASE("asha: rungs at min_epochs * rf^k") {
  AshaPruner asha(Direction::Maximize, 2, 3);
  CHECK(asha.rung_epoch(0) == 2);
  CHECK(asha.rung_epoch(1) == 6);
  CHECK(asha.rung_epoch(2) == 18);
}

TEST_CASE("asha: promotion keeps the top 1/rf at each rung (maximise)") {
  AshaPruner asha(Direction::Maximize, 1, 3);
  // Six trials already passed rung 0 (epoch 1) with these values.
  std::vector<TrialRecord> all;
  double values[] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6};
  for (int i = 0; i < 6; ++i) all.push_back(trial(i, {{1, values[i]}}));
  // 7 competitors incl. the newcomer: 7/3 = 2 promoted, so the newcomer must beat the 2nd best (0.5).
  CHECK_FALSE(asha.should_prune(trial(6, {{1, 0.55}}), 1, all));
  CHECK(asha.should_prune(trial(6, {{1, 0.45}}), 1, all));
  // Epochs between rungs are never decision points.
  CHECK_FALSE(asha.should_prune(trial(6, {{1, 0.55}, {2, 0.0}}), 2, all));
  // Rung 1 (epoch 3): only trials that got there compete; the first arrival is the best so far.
  CHECK_FALSE(asha.should_prune(trial(6, {{1, 0.55}, {2, 0.5}, {3, 0.1}}), 3, all));
  all.push_back(trial(7, {{1, 0.9}, {2, 0.9}, {3, 0.8}}));
  CHECK(asha.should_prune(trial(6, {{1, 0.55}, {2, 0.5}, {3, 0.1}}), 3, all));
}

TEST_CASE("asha: minimise, too few competitors, and a rung reached late") {
  AshaPruner asha(Direction::Minimize, 1, 2);
  std::vector<TrialRecord> all = {trial(0, {{1, 1.0}})};
  // Two competitors, rf 2: one promotion slot, so only a value at least as good as the best passes.
  CHECK_FALSE(asha.should_prune(trial(1, {{1, 0.9}}), 1, all));
  CHECK(asha.should_prune(trial(1, {{1, 1.1}}), 1, all));
  // Validation every 3 epochs: rung 1 (epoch 2) is decided at epoch 3, the first value after it;
  // rung 2 (epoch 4) at epoch 6.
  all = {trial(0, {{1, 1.0}, {2, 0.5}, {4, 0.2}})};
  CHECK(asha.should_prune(trial(1, {{3, 0.7}}), 3, all));
  CHECK_FALSE(asha.should_prune(trial(1, {{3, 0.4}}), 3, all));
  CHECK(asha.should_prune(trial(1, {{3, 0.4}, {6, 0.3}}), 6, all));
  CHECK_FALSE(asha.should_prune(trial(1, {{3, 0.4}, {6, 0.1}}), 6, all));
}

TEST_CASE("median pruner: compares best-so-far with the median of completed trials at that epoch") {
  MedianPruner median(Direction::Maximize, 3, 2);
  std::vector<TrialRecord> all = {
      trial(0, {{1, 0.1}, {2, 0.2}, {3, 0.3}}, TrialState::Complete),
      trial(1, {{1, 0.2}, {2, 0.4}, {3, 0.5}}, TrialState::Complete),
  };
  auto running = trial(9, {{1, 0.0}, {2, 0.0}, {3, 0.0}});
  // Only two completed trials: startup, never prune.
  CHECK_FALSE(median.should_prune(running, 3, all));
  all.push_back(trial(2, {{1, 0.3}, {2, 0.6}, {3, 0.7}}, TrialState::Complete));
  // Running and pruned trials do not count towards the median.
  all.push_back(trial(3, {{1, 0.0}, {2, 0.0}}, TrialState::Pruned));
  all.push_back(trial(4, {{1, 9.0}, {2, 9.0}}, TrialState::Running));
  // Warmup: epoch 1 < 2.
  CHECK_FALSE(median.should_prune(running, 1, all));
  // Median at epoch 2 is 0.4.
  CHECK(median.should_prune(trial(9, {{1, 0.3}, {2, 0.35}}), 2, all));
  CHECK_FALSE(median.should_prune(trial(9, {{1, 0.3}, {2, 0.45}}), 2, all));
  // Best so far counts, not the last value.
  CHECK_FALSE(median.should_prune(trial(9, {{1, 0.9}, {2, 0.1}}), 2, all));
  // Minimising flips the comparison.
  MedianPruner min_median(Direction::Minimize, 3, 0);
  CHECK_FALSE(min_median.should_prune(trial(9, {{2, 0.35}}), 2, all));
  CHECK(min_median.should_prune(trial(9, {{2, 0.45}}), 2, all));
}

TEST_CASE("pruner factory: none, asha, median") {
  PrunerOptions o;
  CHECK(make_pruner(o) == nullptr);
  o.method = "asha";
  CHECK(dynamic_cast<AshaPruner*>(make_pruner(o).get()) != nullptr);
  o.method = "median";
  CHECK(dynamic_cast<MedianPruner*>(make_pruner(o).get()) != nullptr);
}
