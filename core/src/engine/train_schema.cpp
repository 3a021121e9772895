#include "engine/train_schema.h"

namespace xp::engine {

namespace {

Schema optimizer_schema() {
  Schema group("A parameter group: parameters whose dotted name matches `params` get their own settings");
  group.add_strings("params", {}, "glob patterns on parameter names, e.g. [\"backbone.*\"]")
      .add_float("lr_scale", 1.0, "multiplies the optimizer lr (discriminative LR: 0.1 for a backbone)").min(0.0)
      .add_float("weight_decay", -1.0, "weight decay for this group (-1 = the optimizer's)");
  return Schema("Optimizer")
      .add_string("name", "adamw", "optimizer").choices({"sgd", "adam", "adamw"})
      .add_float("lr", 1e-3, "base learning rate").min(0.0)
      .add_float("weight_decay", 0.0, "weight decay (decoupled for adamw)").min(0.0)
      .add_float("momentum", 0.9, "sgd momentum").range(0.0, 1.0)
      .add_bool("nesterov", false, "sgd Nesterov momentum")
      .add_floats("betas", {0.9, 0.999}, "adam/adamw betas").range(0.0, 1.0)
      .add_float("eps", 1e-8, "adam/adamw epsilon").min(0.0)
      .add_bool("no_decay_norm_bias", true, "exclude norm weights and biases from weight decay")
      .add_sections("groups", group, "parameter groups, first match wins");
}

Schema schedule_schema() {
  return Schema("Learning-rate schedule, updated every optimizer step")
      .add_string("name", "constant", "schedule")
      .choices({"constant", "step", "multistep", "cosine", "warmup_cosine", "onecycle"})
      .add_float("warmup_epochs", 0.0, "linear warmup length in epochs (cosine, warmup_cosine)").min(0.0)
      .add_float("step_epochs", 10.0, "step: decay every this many epochs").min(0.0)
      .add_floats("milestones", {}, "multistep: epochs at which to decay")
      .add_float("gamma", 0.1, "step/multistep decay factor").range(0.0, 1.0)
      .add_float("min_lr", 0.0, "cosine floor").min(0.0)
      .add_float("max_lr", 0.0, "onecycle peak (0 = optimizer lr)").min(0.0)
      .add_float("pct_start", 0.3, "onecycle fraction of steps spent increasing").range(0.0, 1.0)
      .add_float("div_factor", 25.0, "onecycle initial lr = max_lr / div_factor").min(1.0)
      .add_float("final_div_factor", 1e4, "onecycle final lr = initial / final_div_factor").min(1.0);
}

Schema stage_schema() {
  return Schema("A training stage: epochs with their own frozen modules and learning rate")
      .add_int("epochs", 1, "epochs in this stage").min(1)
      .add_strings("freeze", {}, "glob patterns of parameter names to freeze, e.g. [\"backbone.*\"]")
      .add_float("lr", 0.0, "base learning rate for this stage (0 = keep the optimizer's)").min(0.0)
      .add_float("lr_scale", 1.0, "multiplies the stage's lr for every group").min(0.0);
}

Schema checkpoint_schema() {
  return Schema("Checkpoints: `last` every epoch and `best` by a monitored metric")
      .add_string("monitor", "val_loss", "metric that decides `best`, e.g. val_top1")
      .add_string("mode", "min", "whether larger or smaller is better").choices({"min", "max"})
      .add_bool("keep_every", false, "also keep one checkpoint per epoch")
      .add_string("test_with", "best", "weights the test split is evaluated with: the best checkpoint or the last epoch's")
      .choices({"best", "last"});
}

Schema early_stopping_schema() {
  return Schema("Stop when the monitored metric stops improving")
      .add_bool("enabled", false, "turn early stopping on")
      .add_string("monitor", "val_loss", "metric to watch")
      .add_string("mode", "min", "whether larger or smaller is better").choices({"min", "max"})
      .add_int("patience", 5, "epochs without improvement before stopping").min(1)
      .add_float("min_delta", 0.0, "smallest change that counts as improvement").min(0.0)
      .add_int("start_epoch", 0, "ignore epochs before this one").min(0)
      .add_int("window", 1, "moving-average window over the metric").min(1);
}

Schema ema_schema() {
  return Schema("Exponential moving average of the weights")
      .add_bool("enabled", false, "keep an EMA copy of the weights")
      .add_float("decay", 0.999, "EMA decay per step").range(0.0, 1.0)
      .add_bool("evaluate", true, "validate, test and checkpoint with the EMA weights");
}

Schema calibration_schema() {
  return Schema("After training: calibrate on the validation split, then test with the calibration")
      .add_bool("enabled", false, "fit the calibration and report test_cal_* metrics")
      .add_bool("temperature", true, "fit a temperature on validation logits (ECE before/after recorded)")
      .add_bool("threshold", true, "binary segmentation: choose the threshold that maximises validation F1");
}

Schema tensorboard_schema() {
  return Schema("TensorBoard events in the run folder (tensorboard/), for `tensorboard --logdir xp-runs`")
      .add_bool("enabled", true, "write TensorBoard event files")
      .add_int("log_every_n_steps", 10, "log the training loss and learning rate every N optimizer steps").min(1)
      .add_int("images", 8, "training inputs (after augmentation) logged once from the first batch (0 = none)").min(0);
}

Schema distributed_schema() {
  return Schema("Data-parallel training across processes (started by `xp run --nproc-per-node N`, torchrun or srun; "
                "one process = one rank, train.batch_size is per rank)")
      .add_string("backend", "auto", "collective backend: auto = nccl on CUDA, gloo on the CPU")
      .choices({"auto", "gloo", "nccl"})
      .add_float("bucket_mb", 25.0, "gradients are all-reduced in buckets of about this size, overlapped with backward")
      .min(0.001)
      .add_bool("find_unused", false, "allow parameters that get no gradient in a step (reduced as zeros)")
      .add_bool("sync_batchnorm", false, "batch-norm statistics over the global batch (all ranks), not each rank's part")
      .add_bool("broadcast_buffers", true, "copy rank 0's buffers (batch-norm statistics) to every rank before each forward")
      .add_float("timeout_s", 300.0, "a rank that waits longer than this for the others (one died or hangs) stops the run")
      .min(1.0)
      .add_int("gloo_threads", 2, "Gloo worker threads per rank").range(1, 64);
}

}  // namespace

Schema train_schema() {
  return Schema("Training loop options ([train])")
      .add_int("epochs", 10, "epochs in total (ignored when stages are given)").min(1)
      .add_int("batch_size", 32, "samples per step").min(1)
      .add_int("eval_batch_size", 0, "batch size for validation/test (0 = batch_size)").min(0)
      .add_int("accumulate", 1, "optimizer step every N batches (effective batch = batch_size * N)").min(1)
      .add_float("grad_clip", 0.0, "clip the global gradient norm to this (0 = off)").min(0.0)
      .add_int("workers", -1, "loader threads that decode and augment; -1 = auto: every core but two when "
                              "training on CUDA, 2 on the CPU")
      .min(-1)
      .add_int("prefetch", 4, "batches prepared ahead of the trainer").min(1)
      .add_int("threads", 0, "torch intra-op threads (0 = all cores)").min(0)
      .add_int("max_steps_per_epoch", 0, "stop each epoch after this many steps (0 = full epoch)").min(0)
      .add_int("eval_every", 1, "validate every N epochs").min(1)
      .add_bool("drop_last", true, "drop the last incomplete training batch")
      .add_string("device", "auto", "auto, cpu, cuda or cuda:N")
      .add_string("precision", "fp32",
                  "fp32, or mixed precision: bf16 (CUDA, or a CPU; fast where it has AVX512-BF16), or fp16 with "
                  "dynamic loss scaling (CUDA; fp32 on a CPU)")
      .choices({"fp32", "fp16", "bf16"})
      .add_string("channels_last", "auto",
                  "NHWC memory format for the model's 4-d weights and its inputs: auto = on the CPU when LibTorch "
                  "has oneDNN (its convolutions work in NHWC), off on CUDA; on; off (true/false too)")
      .choices({"auto", "on", "off"})
      .add_bool("cudnn_benchmark", false, "CUDA: let cuDNN time its algorithms for each input shape")
      .add_bool("pin_memory", true, "CUDA: page-locked batches and non-blocking copies to the GPU")
      .add_string("normalize_on_device", "auto",
                  "images leave the loader as uint8 and are converted to float (and a final `normalize` applied) "
                  "on the training device: auto = on CUDA, on = also on CPU, off = by the loader workers")
      .choices({"auto", "on", "off"})
      .add_section("optimizer", optimizer_schema(), "optimizer and parameter groups")
      .add_section("schedule", schedule_schema(), "learning-rate schedule")
      .add_sections("stages", stage_schema(), "staged training (freeze, per-stage lr)")
      .add_section("checkpoint", checkpoint_schema(), "checkpointing")
      .add_section("early_stopping", early_stopping_schema(), "early stopping")
      .add_section("ema", ema_schema(), "EMA of weights")
      .add_string("tta", "none", "test-time augmentation for validation and test")
      .choices({"none", "hflip", "flips", "multiscale", "five_crop"})
      .add_section("calibration", calibration_schema(), "threshold and temperature calibration")
      .add_section("tensorboard", tensorboard_schema(), "TensorBoard logging")
      .add_section("distributed", distributed_schema(), "data-parallel training across processes and machines")
      .add_strings("console", {}, "metrics on the console's epoch line, without split prefix (e.g. [\"top1\", \"f1\"]); "
                   "empty = all; metrics.csv and the registry always get every metric");
}

}  // namespace xp::engine
