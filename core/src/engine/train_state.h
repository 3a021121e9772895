#pragma once
// Everything the fit loop and its callbacks share about one run in progress: where the loop is
// (the checkpointed LoopState), the epochs logged so far, the resolved monitor, the summary being
// built, and a stop request. Callbacks read it and, where their job says so, write to it (the
// checkpoint callback sets `improved`, early stopping requests a stop).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/checkpoint.h"
#include "engine/monitor.h"
#include "xp/base/run_recorder.h"

namespace xp::engine {

using MetricsRow = std::map<std::string, double>;  // one epoch: "epoch", "step", "lr", "train_loss", "val_*", ...

struct TrainState {
  LoopState progress;               // epoch, batches done, optimizer steps, best monitored value
  std::vector<MetricsRow> history;  // one row per finished epoch (restored from metrics.csv on resume)
  Monitor monitor;                  // train.checkpoint.monitor after the no-val fallback
  int64_t total_epochs = 0, batches_per_epoch = 0, steps_per_epoch = 0;
  int64_t epochs_done = 0, skipped_samples = 0;
  bool improved = false;            // the epoch just logged is the best so far (set at epoch end)
  RunStatus status = RunStatus::Finished;
  std::string message;              // why the run stopped early, for the log and the registry
  std::map<std::string, double> summary;  // filled after the last epoch: best_*, final_*, test_*, ...
  // Training loss read since a listener last took it (TensorBoard's per-step points).
  double unlogged_loss_sum = 0.0;
  int64_t unlogged_loss_count = 0;
  // Files written since the registry callback last recorded them: (path, kind).
  std::vector<std::pair<std::string, std::string>> new_artifacts;

  bool stop_requested() const { return stop_; }
  // Ends the loop after the current batch (divergence, interrupt) or epoch (early stopping).
  // A stop keeps the status the run has unless a different one is given.
  void request_stop(RunStatus why, std::string reason) {
    stop_ = true;
    status = why;
    message = std::move(reason);
  }

 private:
  bool stop_ = false;
};

}  // namespace xp::engine
