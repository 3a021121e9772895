#include "engine/callbacks/tensorboard.h"

namespace xp::engine {

void TensorBoardCallback::on_fit_start(TrainState&) {
  writer_ = std::make_unique<TensorBoardWriter>(dir_);
  writer_->session_start(hparams_);
}

void TensorBoardCallback::on_batch_end(TrainState& state, const BatchEnd& end) {
  if (end.epoch == 0 && end.batch == 1 && end.input && o_.images > 0) {
    // Once per run, on the first batch: its device sync is free.
    const auto images = batch_to_pixels(end.input->input, o_.images, normalization_);
    const int64_t drawn_at = state.progress.step - (end.stepped ? 1 : 0);  // the step the batch was drawn for
    for (size_t i = 0; i < images.size(); ++i)
      writer_->image("train_inputs/" + std::to_string(i), drawn_at, images[i]);
  }
  const int64_t step = state.progress.step;
  if (!end.stepped || step % o_.log_every_n_steps != 0) return;
  writer_->scalar("step/lr", step, end.lr);
  if (state.unlogged_loss_count == 0) return;  // CUDA: nothing read since the last point; the next one has it
  writer_->scalar("step/train_loss", step, state.unlogged_loss_sum / static_cast<double>(state.unlogged_loss_count));
  state.unlogged_loss_sum = 0;
  state.unlogged_loss_count = 0;
}

// Every value of the epoch's row (as in metrics.csv) at the step the epoch ended on; then a flush,
// so TensorBoard shows the epoch as soon as it is logged.
void TensorBoardCallback::on_epoch_end(TrainState& state, const MetricsRow& row) {
  for (const auto& [k, v] : row)
    if (k != "epoch" && k != "step") writer_->scalar("epoch/" + k, state.progress.step, v);
  writer_->flush();
}

void TensorBoardCallback::on_interrupt(TrainState&) { writer_->flush(); }

void TensorBoardCallback::on_fit_end(TrainState& state) {
  // An interrupted run is resumed into the same session: no summary or end yet.
  const int64_t steps = state.progress.step;
  if (state.status != RunStatus::Interrupted) {
    for (const auto& [k, v] : state.summary) writer_->scalar("summary/" + k, steps, v);
    writer_->session_end(steps, state.status == RunStatus::Finished ? tensorboard::SessionStatus::Success
                                                                    : tensorboard::SessionStatus::Failure);
  }
  writer_->flush();
  state.new_artifacts.emplace_back(writer_->path().string(), "tensorboard");
}

}  // namespace xp::engine
