#pragma once
// The training loop. It sees plugins only through the SDK interfaces, so tests can hand it a
// model or dataset defined inline, and `xp run` hands it what the plugins built from a RunSpec.

#include <atomic>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/sample_images.h"
#include "engine/train_options.h"
#include "xp/base/run_recorder.h"
#include "xp/augmentation.h"
#include "xp/dataset.h"
#include "xp/loss.h"
#include "xp/metric.h"
#include "xp/model.h"
#include "xp/sampler.h"

namespace xp::engine {

struct TrainSetup {
  std::shared_ptr<Model> model;
  std::shared_ptr<Loss> loss;
  DatasetInfo info;
  std::shared_ptr<const Split> train, val, test;  // val and test may be null
  std::shared_ptr<Sampler> sampler;                // null: a seeded random permutation
  std::vector<std::shared_ptr<Augmentation>> augment, eval_augment;
  // The `normalize` that augment / eval_augment end with, when they do (build_setup fills these
  // from the experiment): the trainer may leave that last transform to the device
  // (train.normalize_on_device). Unset: the pipeline runs in full on the loader threads.
  std::optional<PixelNormalization> augment_final_normalize, eval_final_normalize;
  std::vector<std::shared_ptr<BatchAugmentation>> batch_augment;
  std::vector<std::shared_ptr<Metric>> metrics;
  TrainOptions options;
  uint64_t seed = 0;
};

struct TrainContext {
  std::filesystem::path run_dir;   // empty: write no files (no checkpoints, no resume)
  RunRecorder* recorder = nullptr; // may be null
  std::string run_id;
  bool resume = false;             // continue from run_dir/checkpoints/last.pt
  const std::atomic<bool>* interrupt = nullptr;  // set (e.g. by SIGINT) to stop cleanly
  std::ostream* out = &std::cout;
  bool tty = false;                // live progress bar
  double heartbeat_seconds = 30.0;
  // TensorBoard (train.tensorboard): the run's hyperparameters (flat resolved config, plus the seed)
  // for the HParams dashboard, and the `normalize` to invert when showing training images.
  std::map<std::string, std::string> hparams;
  std::optional<PixelNormalization> pixel_normalization;
  // Called after every optimizer step with (0-based epoch, global step); tests use it to interrupt.
  std::function<void(int64_t, int64_t)> on_step;
};

struct TrainResult {
  RunStatus status = RunStatus::Finished;
  std::string message;
  std::vector<std::map<std::string, double>> history;  // one row per finished epoch
  std::map<std::string, double> summary;
  int64_t epochs_done = 0, steps = 0, skipped_samples = 0;
};

TrainResult train(TrainSetup& setup, const TrainContext& context);

// The order one epoch visits the training split: the sampler's, or a permutation seeded by
// (seed, epoch) when there is no sampler.
std::vector<int64_t> epoch_order(const TrainSetup& setup, int64_t epoch);

}  // namespace xp::engine
