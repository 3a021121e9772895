#pragma once
// Checkpoints: after every epoch, best.pt when the best-metric callback (which runs before) found an improvement, last.pt
// always, epoch_N.pt when asked; on an interrupt, last.pt with the generator
// state as it is, so the resumed run continues the same draws. Reading last.pt back is
// ResumeCallback's (resume.h).

#include <filesystem>

#include "engine/callback.h"
#include "engine/run_log.h"
#include "engine/train_options.h"
#include "engine/train_step.h"

namespace xp::engine {

class CheckpointCallback : public Callback {
 public:
  CheckpointCallback(const std::filesystem::path& run_dir, TrainStep& step, const CheckpointOptions& options);

  static std::filesystem::path best_path(const std::filesystem::path& run_dir) {
    return run_dir / "checkpoints" / "best.pt";
  }

  void on_epoch_end(TrainState& state, const MetricsRow& row) override;
  void on_interrupt(TrainState& state) override;

 private:
  std::filesystem::path dir_, last_, best_;
  TrainStep& step_;
  const CheckpointOptions& o_;
};

}  // namespace xp::engine
