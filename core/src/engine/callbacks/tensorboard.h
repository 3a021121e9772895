#pragma once
// TensorBoard event files for the run (train.tensorboard): the hyperparameters at the start,
// per-step loss and lr, sample training inputs once, every epoch's row, the summary at the end.

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "engine/callback.h"
#include "engine/sample_images.h"
#include "engine/tensorboard_writer.h"
#include "engine/train_options.h"

namespace xp::engine {

class TensorBoardCallback : public Callback {
 public:
  TensorBoardCallback(const std::filesystem::path& dir, const TensorBoardOptions& options,
                      std::map<std::string, std::string> hparams, std::optional<PixelNormalization> normalization)
      : dir_(dir), o_(options), hparams_(std::move(hparams)), normalization_(std::move(normalization)) {}

  void on_fit_start(TrainState& state) override;
  void on_batch_end(TrainState& state, const BatchEnd& end) override;
  void on_epoch_end(TrainState& state, const MetricsRow& row) override;
  void on_interrupt(TrainState&) override;
  void on_fit_end(TrainState& state) override;

 private:
  std::filesystem::path dir_;
  TensorBoardOptions o_;
  std::map<std::string, std::string> hparams_;
  std::optional<PixelNormalization> normalization_;
  std::unique_ptr<TensorBoardWriter> writer_;
};

}  // namespace xp::engine
