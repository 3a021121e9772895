#include "engine/callbacks/checkpointing.h"

namespace xp::engine {

namespace fs = std::filesystem;

CheckpointCallback::CheckpointCallback(const fs::path& run_dir, TrainStep& step, const CheckpointOptions& options)
    : dir_(run_dir / "checkpoints"),
      last_(dir_ / "last.pt"),
      best_(best_path(run_dir)),
      step_(step),
      o_(options) {}

void CheckpointCallback::on_epoch_end(TrainState& state, const MetricsRow& row) {
  const int64_t epoch = static_cast<int64_t>(row.at("epoch"));
  {
    TrainStep::EmaWeights ema(step_);
    if (state.improved) save_checkpoint(best_, step_.checkpoint_parts(), state.progress);
    if (o_.keep_every)
      save_checkpoint(dir_ / ("epoch_" + std::to_string(epoch) + ".pt"), step_.checkpoint_parts(), state.progress);
  }
  save_checkpoint(last_, step_.checkpoint_parts(), state.progress);
  state.new_artifacts.emplace_back(last_.string(), "checkpoint");
  if (state.improved) state.new_artifacts.emplace_back(best_.string(), "checkpoint");
}

void CheckpointCallback::on_interrupt(TrainState& state) {
  // Saved as the generator is now: the resumed run continues this epoch's draws.
  save_checkpoint(last_, step_.checkpoint_parts(), state.progress);
  state.new_artifacts.emplace_back(last_.string(), "checkpoint");
}

}  // namespace xp::engine
