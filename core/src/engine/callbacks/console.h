#pragma once
// What a person watching the run sees: the live progress bar of each epoch (on a TTY), one line
// per epoch (losses, the metrics train.console names, lr, memory, time, "*" on a new best), the
// test line, and why a run stopped early. Piped output gets a progress line every 30 s instead of
// the bar, so a long epoch is never silent in a log file.

#include <memory>
#include <string>
#include <vector>

#include "engine/callback.h"
#include "engine/progress.h"
#include "engine/progress_lines.h"
#include "engine/run_log.h"

namespace xp::engine {

class ConsoleCallback : public Callback {
 public:
  ConsoleCallback(RunLog& log, std::vector<std::string> console_stems)
      : log_(log), stems_(std::move(console_stems)) {}

  void on_epoch_start(TrainState& state, int64_t epoch) override;
  void on_batch_end(TrainState& state, const BatchEnd& end) override;
  void on_epoch_end(TrainState& state, const MetricsRow& row) override;
  void on_interrupt(TrainState&) override { bar_.reset(); }
  void on_test_end(TrainState& state) override;
  void on_fit_end(TrainState& state) override;

 private:
  RunLog& log_;
  std::vector<std::string> stems_;
  std::unique_ptr<ProgressBar> bar_;      // on a TTY: redrawn in place
  std::unique_ptr<ProgressLines> lines_;  // elsewhere (pipe, file, Slurm log): a line now and then
  std::chrono::steady_clock::time_point epoch_start_;
};

}  // namespace xp::engine
