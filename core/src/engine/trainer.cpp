#include "engine/trainer.h"

#include "distributed/distributed_context.h"
#include "engine/callback.h"
#include "engine/callbacks/best_metric.h"
#include "engine/callbacks/calibration.h"
#include "engine/callbacks/checkpointing.h"
#include "engine/callbacks/console.h"
#include "engine/callbacks/early_stopping.h"
#include "engine/callbacks/registry_recorder.h"
#include "engine/callbacks/resume.h"
#include "engine/callbacks/run_files_callback.h"
#include "engine/callbacks/tensorboard.h"
#include "engine/evaluator.h"
#include "engine/fit_loop.h"
#include "engine/mixed_precision.h"
#include "engine/run_log.h"
#include "engine/runtime.h"
#include "engine/train_step.h"
#include "xp/errors.h"
#include "xp/rng.h"

namespace xp::engine {

namespace {

// The test hook of TrainContext::on_step, after every optimizer step.
class StepHookCallback : public Callback {
 public:
  explicit StepHookCallback(std::function<void(int64_t, int64_t)> hook) : hook_(std::move(hook)) {}
  void on_batch_end(TrainState& state, const BatchEnd& end) override {
    if (end.stepped) hook_(end.epoch, state.progress.step);
  }

 private:
  std::function<void(int64_t, int64_t)> hook_;
};

// Data-parallel: every rank starts from rank 0's weights (after a resume, too), and a new stage's
// trainable set is rehooked by the fit loop.
class DistributedStartCallback : public Callback {
 public:
  DistributedStartCallback(distributed::DistributedContext& dist, Model& model) : dist_(dist), model_(model) {}
  void on_fit_start(TrainState&) override { dist_.prepare_model(model_); }

 private:
  distributed::DistributedContext& dist_;
  Model& model_;
};

}  // namespace

TrainResult train(TrainSetup& s, const TrainContext& c) {
  if (!s.model || !s.loss || !s.train) throw std::invalid_argument("train: model, loss and train split are required");
  const TrainOptions& o = s.options;
  RunFiles files(c.run_dir);
  RunLog log(*c.out, files, c.tty);
  const bool has_run_dir = !c.run_dir.empty();

  Runtime runtime = Runtime::configure(o, &log);
  // Data-parallel when launched as one of several ranks (xp run --nproc-per-node, torchrun, srun).
  const distributed::World world = distributed::discover_world();
  std::unique_ptr<distributed::DistributedContext> dist;
  if (world.distributed()) {
    runtime.device = distributed::DistributedContext::device_for_local_rank(runtime.device, world);
    dist = distributed::DistributedContext::from_environment(o.distributed, runtime.device);
    log.line("data-parallel: " + world.describe() + ", backend " + dist->backend() + ", device " +
             runtime.device.str() + (o.distributed.sync_batchnorm ? ", batch norm synchronised" : ""));
    // The run's record says how it was trained (xp show, --where tags.world_size = 2); a resumed
    // run records the world it continued on.
    if (c.recorder && dist->is_rank0()) {
      c.recorder->set_tag(c.run_id, "world_size", std::to_string(dist->world_size()));
      c.recorder->set_tag(c.run_id, "dist_backend", dist->backend());
      c.recorder->set_tag(c.run_id, "dist_hosts", dist->hosts_summary());
    }
  }
  // The precision the run computed in, which is not always the one asked for (fp16 on a CPU):
  // xp show lists it, --where tags.precision_effective = 'bf16' selects by it.
  if (c.recorder && (!dist || dist->is_rank0()))
    c.recorder->set_tag(c.run_id, "precision_effective", precision_name(runtime.amp_dtype));
  runtime.defer_conversions(o, s.augment, s.augment_final_normalize, s.eval_augment, s.eval_final_normalize, &log);

  TrainState state;
  plan_epochs(s, state, dist.get());
  state.progress.world_size = dist ? dist->world_size() : 1;
  TrainStep step(*s.model, *s.loss, o, runtime, state.steps_per_epoch);
  step.set_distributed(dist.get());
  Evaluator evaluator({s.model.get(), s.loss.get(), s.metrics, s.eval_augment, s.info.task, s.seed}, o, runtime);
  evaluator.set_interrupt(c.interrupt);
  evaluator.set_progress(c.out, c.tty);
  evaluator.set_distributed(dist.get(), /*shard=*/!o.calibration.enabled);

  const bool has_val = static_cast<bool>(s.val);
  state.monitor = resolve_monitor(o.checkpoint.monitor, o.checkpoint.mode, has_val);
  if (state.monitor.fell_back)
    log.line("note: no val split; checkpoint.monitor '" + o.checkpoint.monitor + "' falls back to train_loss (min)");

  // The order is the contract between the features (callback.h): the best-metric judgement comes
  // first (checkpoints and the console read `improved`); files are written before the registry
  // records them as artifacts; the console prints the epoch line before early stopping says why
  // it stops, and the test line before calibration prints the calibrated one; the test hook last.
  CallbackList callbacks;
  // Resume first: every rank then starts from the checkpoint's weights (rank 0's, broadcast again
  // by the distributed start, which also hooks the gradients).
  if (c.resume) {
    if (!has_run_dir && !(dist && !dist->is_rank0())) throw ConfigError("cannot resume: no checkpoint at (no run folder)");
    callbacks.emplace<ResumeCallback>(c.run_dir / "checkpoints" / "last.pt", step, runtime.device, o.batch_size,
                                      o.accumulate, log, dist.get());
  }
  if (dist) callbacks.emplace<DistributedStartCallback>(*dist, *s.model);
  callbacks.emplace<BestMetricCallback>();
  if (has_run_dir) {
    // metrics.csv before the checkpoint: a kill between the two leaves a row past the checkpoint,
    // which the resume drops and trains again, never a finished epoch without its row.
    callbacks.emplace<RunFilesCallback>(files);
    callbacks.emplace<CheckpointCallback>(c.run_dir, step, o.checkpoint);
    if (o.tensorboard.enabled)
      callbacks.emplace<TensorBoardCallback>(c.run_dir / "tensorboard", o.tensorboard, c.hparams, c.pixel_normalization);
  }
  if (c.recorder) callbacks.emplace<RegistryCallback>(*c.recorder, c.run_id, c.heartbeat_seconds);
  if (!dist || dist->is_rank0()) callbacks.emplace<ConsoleCallback>(log, o.console);
  if (o.early_stopping.enabled)
    callbacks.emplace<EarlyStoppingCallback>(
        o.early_stopping, resolve_monitor(o.early_stopping.monitor, o.early_stopping.mode, has_val), &log);
  if (o.calibration.enabled && has_val)
    callbacks.emplace<CalibrationCallback>(evaluator, s.val, s.test, s.info.task, o.calibration, log, o.console);
  if (c.on_step) callbacks.emplace<StepHookCallback>(c.on_step);

  FitLoop::Parts parts;
  parts.setup = &s;
  parts.runtime = &runtime;
  parts.step = &step;
  parts.evaluator = &evaluator;
  parts.callbacks = &callbacks;
  parts.log = &log;
  parts.interrupt = c.interrupt;
  if (has_run_dir) parts.best_checkpoint = CheckpointCallback::best_path(c.run_dir);
  parts.dist = dist.get();
  FitLoop(parts).run(state);

  TrainResult result;
  result.status = state.status;
  result.message = state.status == RunStatus::Finished ? std::string() : state.message;
  result.history = std::move(state.history);
  result.summary = std::move(state.summary);
  result.epochs_done = state.epochs_done;
  result.steps = state.progress.step;
  result.skipped_samples = state.skipped_samples;
  return result;
}

std::vector<int64_t> epoch_order(const TrainSetup& setup, int64_t epoch) {
  if (setup.sampler) {
    SamplerContext ctx;
    ctx.seed = setup.seed;
    ctx.epoch = epoch;
    ctx.batch_size = setup.options.batch_size;
    ctx.split = setup.train.get();
    return setup.sampler->indices(ctx);
  }
  std::vector<int64_t> order(setup.train->size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  Rng rng(Rng::mix(setup.seed, static_cast<uint64_t>(epoch), 0x5eed));
  for (size_t i = order.size(); i > 1; --i)
    std::swap(order[i - 1], order[static_cast<size_t>(rng.integer(0, static_cast<int64_t>(i) - 1))]);
  return order;
}

}  // namespace xp::engine
