#pragma once
// Judges each epoch against the run's monitor (engine/monitor.h: the one rule, fallback
// included): keeps the best value and its epoch in the loop state (checkpointed, so a resumed run
// judges the same way) and marks the epoch `improved` for the checkpoint and the console.

#include "engine/callback.h"

namespace xp::engine {

// Throws ConfigError when the row was evaluated but lacks the monitored metric (a typo that no
// metric plugin's declared outputs could catch before training).
void judge_epoch(TrainState& state, const MetricsRow& row);

class BestMetricCallback : public Callback {
 public:
  void on_epoch_end(TrainState& state, const MetricsRow& row) override { judge_epoch(state, row); }
};

}  // namespace xp::engine
