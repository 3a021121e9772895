#pragma once
// The run folder's tables: metrics.csv rewritten after every epoch (so a crash loses at most the
// epoch in progress) and the skipped-samples report; both, with train.log, become artifacts.

#include "engine/callback.h"
#include "engine/run_files.h"

namespace xp::engine {

class RunFilesCallback : public Callback {
 public:
  explicit RunFilesCallback(RunFiles& files) : files_(files) {}
  void on_epoch_end(TrainState& state, const MetricsRow&) override { write(state); }
  void on_fit_end(TrainState& state) override;

 private:
  void write(const TrainState& state);
  RunFiles& files_;
};

}  // namespace xp::engine
