#pragma once
// [train] as a typed struct. Built from the validated Params (train_schema()); any key missing
// from the Params takes its schema default, so tests can build options from a partial table.

#include <cstdint>
#include <string>
#include <vector>

#include "distributed/distributed_options.h"
#include "xp/params.h"

namespace xp::engine {

struct ParamGroupOptions {
  std::vector<std::string> params;  // globs on dotted parameter names
  double lr_scale = 1.0;
  double weight_decay = -1.0;       // < 0: the optimizer's
};

struct OptimizerOptions {
  std::string name = "adamw";
  double lr = 1e-3, weight_decay = 0.0, momentum = 0.9, eps = 1e-8;
  bool nesterov = false, no_decay_norm_bias = true;
  std::vector<double> betas{0.9, 0.999};
  std::vector<ParamGroupOptions> groups;
};

struct ScheduleOptions {
  std::string name = "constant";
  double warmup_epochs = 0.0, step_epochs = 10.0, gamma = 0.1, min_lr = 0.0;
  std::vector<double> milestones;
  double max_lr = 0.0, pct_start = 0.3, div_factor = 25.0, final_div_factor = 1e4;
};

struct StageOptions {
  int64_t epochs = 1;
  std::vector<std::string> freeze;
  double lr = 0.0;  // 0: the optimizer's
  double lr_scale = 1.0;
};

struct CheckpointOptions {
  std::string monitor = "val_loss", mode = "min";
  bool keep_every = false;
  std::string test_with = "best";  // which weights the test split sees: "best" or "last"
};

struct EarlyStoppingOptions {
  bool enabled = false;
  std::string monitor = "val_loss", mode = "min";
  int64_t patience = 5, start_epoch = 0, window = 1;
  double min_delta = 0.0;
};

struct EmaOptions {
  bool enabled = false;
  double decay = 0.999;
  bool evaluate = true;
};

struct CalibrationOptions {
  bool enabled = false, temperature = true, threshold = true;
};

struct TensorBoardOptions {
  bool enabled = true;
  int64_t log_every_n_steps = 10;
  int64_t images = 8;  // sample training images logged once; 0 = none
};

struct TrainOptions {
  int64_t epochs = 10, batch_size = 32, eval_batch_size = 0, accumulate = 1;
  double grad_clip = 0.0;
  int64_t workers = -1, prefetch = 4, threads = 0, max_steps_per_epoch = 0, eval_every = 1;
  bool drop_last = true;
  std::string device = "auto", precision = "fp32";
  std::string channels_last = "auto";  // auto | on | off
  bool cudnn_benchmark = false, pin_memory = true;
  std::string normalize_on_device = "auto";  // auto | on | off
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
  std::vector<StageOptions> stages;
  CheckpointOptions checkpoint;
  EarlyStoppingOptions early_stopping;
  EmaOptions ema;
  std::string tta = "none";  // see eval/tta.h
  std::vector<std::string> console;  // metric stems on the epoch line; empty = all
  CalibrationOptions calibration;
  TensorBoardOptions tensorboard;
  distributed::DistributedOptions distributed;

  static TrainOptions from_params(const Params& train);
  // Epochs of the whole run: the stages' sum when stages are given.
  int64_t total_epochs() const;
  // The stage an epoch (0-based) belongs to; -1 without stages.
  int64_t stage_of(int64_t epoch) const;
};

// train.workers = -1 (auto): on CUDA every core but two (the training thread and the one that
// collates batches), since decoding is what bounds a GPU run; on the CPU 2, leaving the cores to
// torch's own threads. Any other value is taken as it is.
int64_t resolve_workers(int64_t configured, bool cuda);

}  // namespace xp::engine
