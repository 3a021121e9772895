#pragma once
// Stops the run when the early-stopping monitor (resolved by the same rule as the checkpoint's:
// without a val split it watches train_loss, minimized) has not improved for `patience` epochs.
// It replays the whole history each epoch, so a resumed run stops exactly where the uninterrupted
// one would.

#include "engine/callback.h"
#include "engine/monitor.h"
#include "engine/run_log.h"
#include "engine/train_options.h"

namespace xp::engine {

class EarlyStoppingCallback : public Callback {
 public:
  EarlyStoppingCallback(const EarlyStoppingOptions& options, Monitor monitor, RunLog* log)
      : o_(options), monitor_(std::move(monitor)), log_(log) {}
  void on_epoch_end(TrainState& state, const MetricsRow& row) override;

  // Whether the history calls for a stop (exposed for tests).
  bool should_stop(const std::vector<MetricsRow>& history) const;

 private:
  EarlyStoppingOptions o_;
  Monitor monitor_;
  RunLog* log_;
};

}  // namespace xp::engine
