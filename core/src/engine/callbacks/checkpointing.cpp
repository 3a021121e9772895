#include "engine/callbacks/checkpointing.h"

#include "xp/errors.h"

namespace xp::engine {

namespace fs = std::filesystem;

CheckpointCallback::CheckpointCallback(const fs::path& run_dir, TrainStep& step, const torch::Device& device,
                                       const CheckpointOptions& options, bool resume, RunLog& log)
    : dir_(run_dir / "checkpoints"),
      last_(dir_ / "last.pt"),
      best_(best_path(run_dir)),
      step_(step),
      device_(device),
      o_(options),
      resume_(resume),
      log_(log) {}

void CheckpointCallback::on_fit_start(TrainState& state) {
  if (!resume_) return;
  std::error_code ec;
  if (!fs::exists(last_, ec)) throw ConfigError("cannot resume: no checkpoint at " + last_.string());
  state.progress = load_checkpoint(last_, step_.checkpoint_parts(), device_);
  state.history = log_.files().read_metrics();
  // Rows past the checkpoint (written after it, before a crash) would be duplicated.
  while (!state.history.empty() && state.history.back()["epoch"] > static_cast<double>(state.progress.epoch))
    state.history.pop_back();
  log_.line("resumed from " + last_.string() + " at epoch " + std::to_string(state.progress.epoch + 1) + ", batch " +
            std::to_string(state.progress.batches_done) + ", step " + std::to_string(state.progress.step));
}

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
