#include "engine/fit_loop.h"

#include <chrono>
#include <cmath>
#include <sstream>

#include "engine/device_memory.h"
#include "distributed/distributed_context.h"
#include "engine/epoch_loss.h"
#include "xp/batch_decode.h"
#include "xp/errors.h"
#include "xp/rng.h"

namespace xp::engine {

namespace fs = std::filesystem;

std::vector<int64_t> rank_order(const TrainSetup& s, int64_t epoch, const distributed::DistributedContext* dist) {
  std::vector<int64_t> order = epoch_order(s, epoch);
  return dist && dist->active() ? dist->shard_training(order, s.options.batch_size) : order;
}

void plan_epochs(const TrainSetup& s, TrainState& state, const distributed::DistributedContext* dist) {
  const TrainOptions& o = s.options;
  state.total_epochs = o.total_epochs();
  const int64_t n = static_cast<int64_t>(rank_order(s, 0, dist).size());
  int64_t batches = o.drop_last ? n / o.batch_size : (n + o.batch_size - 1) / o.batch_size;
  if (batches == 0)
    throw ConfigError("the training split has " + std::to_string(n) + " samples, fewer than train.batch_size = " +
                      std::to_string(o.batch_size) + " (with drop_last); lower the batch size");
  int64_t steps = (batches + o.accumulate - 1) / o.accumulate;
  if (o.max_steps_per_epoch > 0) {
    steps = std::min(steps, o.max_steps_per_epoch);
    batches = std::min(batches, steps * o.accumulate);
  }
  state.batches_per_epoch = batches;
  state.steps_per_epoch = steps;
}

bool FitLoop::interrupted_everywhere() {
  const bool here = interrupted();
  return p_.dist && p_.dist->active() ? p_.dist->any(here) : here;
}

void FitLoop::note_skipped(TrainState& state, const std::string& split, int64_t epoch,
                           const std::vector<data::SkippedSample>& skipped) {
  state.skipped_samples += p_.log->skipped(split, epoch, skipped);
}

void FitLoop::apply_stage(int64_t epoch) {
  const int64_t stage = o_.stage_of(epoch);
  if (stage == current_stage_) return;
  current_stage_ = stage;
  if (stage < 0) return;
  auto& params = p_.step->params();
  const size_t frozen = apply_freeze(params, o_.stages[stage].freeze);
  // The gradient buckets follow what trains now.
  if (p_.dist && p_.dist->active()) p_.dist->prepare_model(p_.step->model(), /*broadcast=*/false);
  std::ostringstream lr;
  lr << p_.step->base_lr(epoch);
  p_.log->line("stage " + std::to_string(stage + 1) + "/" + std::to_string(o_.stages.size()) + ": " +
               std::to_string(frozen) + " of " + std::to_string(params.size()) + " parameter tensors frozen, base lr " +
               lr.str());
}

void FitLoop::train_epoch(TrainState& state, int64_t epoch) {
  LoopState& progress = state.progress;
  s_.model->train();
  s_.loss->train();
  if (progress.batches_done == 0) {
    // Reseeding per epoch makes dropout and any other torch draw a function of (seed, epoch).
    torch::manual_seed(Rng::mix(s_.seed, static_cast<uint64_t>(epoch), 0x70c4));
    progress.loss_sum = 0;
    progress.loss_count = 0;
  }
  const Runtime& rt = *p_.runtime;
  const DeferredConversion* conversion = rt.train_conversion ? &*rt.train_conversion : nullptr;
  // The loader started ahead when it is this epoch's and the epoch begins from its start (not a
  // resumed one), else a new one.
  std::unique_ptr<data::EpochLoader> loader_owner;
  if (next_loader_epoch_ == epoch && progress.batches_done == 0) loader_owner = std::move(next_loader_);
  next_loader_.reset();
  if (!loader_owner) loader_owner = make_loader(epoch);
  data::EpochLoader& loader = *loader_owner;

  // An interrupted epoch: replay the loader up to where it stopped (the same batches, so the
  // skipped-sample bookkeeping matches), then continue with torch's saved generator state.
  for (int64_t b = 0; b < progress.batches_done; ++b)
    if (!loader.next()) break;

  const int64_t batches = state.batches_per_epoch, start_batch = progress.batches_done;
  int64_t batch_index = start_batch, micro = 0;
  EpochLoss epoch_loss(state, rt.device.is_cuda(), batch_index);
  auto diverged = [&](double value) {
    std::ostringstream os;
    os << "loss is " << value << " at epoch " << epoch + 1 << ", batch " << epoch_loss.diverged_batches() << " (step "
       << progress.step << ", lr " << p_.step->lr(epoch, progress.step)
       << "); lower the learning rate, enable train.grad_clip or check the data";
    state.request_stop(RunStatus::Diverged, os.str());
  };
  auto step = [&](BatchEnd& end) {
    end.lr = p_.step->lr(epoch, progress.step);
    p_.step->optimizer_step(epoch, progress.step);
    end.stepped = true;
  };
  while (batch_index < batches) {
    if (micro == 0 && interrupted_everywhere()) {
      if (auto bad = epoch_loss.settle(batch_index)) {
        diverged(*bad);
        break;
      }
      state.request_stop(RunStatus::Interrupted,
                         "interrupted at epoch " + std::to_string(epoch + 1) + ", batch " + std::to_string(batch_index));
      break;
    }
    const auto wait_start = std::chrono::steady_clock::now();
    auto next = loader.next();
    data_wait_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - wait_start).count();
    if (!next) break;
    if (batch_index + 1 == batches) start_next_loader(state, epoch + 1);
    // Batch transforms (mixup, cutmix) see float inputs on the device: after a deferred conversion.
    Batch batch = rt.to_device(std::move(*next), conversion);
    if (!s_.batch_augment.empty()) {
      Rng rng(Rng::mix(s_.seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(batch_index), 0xba7c));
      for (const auto& a : s_.batch_augment) a->apply(batch, s_.info.num_classes, rng);
    }
    torch::Tensor loss = p_.step->forward(batch);
    if (auto bad = epoch_loss.add(loss, batch.size(), batch_index + 1)) {
      diverged(*bad);
      break;
    }
    p_.step->backward(loss, micro + 1 == o_.accumulate || batch_index + 1 == batches);
    ++batch_index;
    BatchEnd end;
    end.epoch = epoch;
    end.batch = batch_index;
    end.batches = batches;
    end.input = &batch;
    if (++micro == o_.accumulate) {
      micro = 0;
      step(end);
      progress.batches_done = batch_index;
    }
    if (auto bad = epoch_loss.after_batch(batch_index, batch_index == batches)) {
      diverged(*bad);
      break;
    }
    end.mean_loss = epoch_loss.mean();
    p_.callbacks->batch_end(state, end);
  }
  if (state.stop_requested()) {
    note_skipped(state, "train", epoch, loader.skipped());
    return;
  }
  if (auto bad = epoch_loss.settle(batch_index)) {
    diverged(*bad);
    return;
  }
  // A last partial accumulation still updates the weights.
  if (micro > 0) {
    BatchEnd end;
    end.epoch = epoch;
    end.batch = batch_index;
    end.batches = batches;
    step(end);
    end.mean_loss = epoch_loss.mean();
    p_.callbacks->batch_end(state, end);
  }
  note_skipped(state, "train", epoch, loader.skipped());
  // How the batches were shared with a batch decode stage (decoder = "nvjpeg_batched"), in train.log.
  if (const auto stage = loader.batch_stage()) p_.log->detail("epoch " + std::to_string(epoch + 1) + ": " + xp::summarize(*stage));
  if (batch_index == start_batch && batches > 0)
    throw std::runtime_error("epoch " + std::to_string(epoch + 1) +
                             " produced no batch: every training sample was skipped or the sampler returned nothing");
}

std::unique_ptr<data::EpochLoader> FitLoop::make_loader(int64_t epoch) const {
  const Runtime& rt = *p_.runtime;
  const DeferredConversion* conversion = rt.train_conversion ? &*rt.train_conversion : nullptr;
  data::LoaderOptions lo;
  lo.batch_size = o_.batch_size;
  lo.drop_last = o_.drop_last;
  lo.workers = resolve_workers(o_.workers, rt.device.is_cuda());
  lo.prefetch = o_.prefetch;
  lo.seed = s_.seed;
  lo.task = s_.info.task;
  lo.pin_memory = o_.pin_memory && rt.device.is_cuda();
  if (conversion) lo.deferred_conversion = conversion->host;
  return std::make_unique<data::EpochLoader>(s_.train, conversion ? conversion->augment : s_.augment, lo, epoch,
                                             rank_order(s_, epoch, p_.dist));
}

void FitLoop::start_next_loader(const TrainState& state, int64_t epoch) {
  // Only with loader threads (inline loading would do the work now, on this thread), and only for an
  // epoch that will run: every input of an epoch's batches (order, augmentation draws) is a function
  // of the seed and the epoch number, so loading them early changes no value.
  if (epoch >= state.total_epochs || state.stop_requested() ||
      resolve_workers(o_.workers, p_.runtime->device.is_cuda()) <= 0)
    return;
  next_loader_ = make_loader(epoch);
  next_loader_epoch_ = epoch;
}

MetricsRow FitLoop::epoch_row(TrainState& state, int64_t epoch, bool& interrupted_in_validation) {
  MetricsRow row;
  const LoopState& progress = state.progress;
  row["epoch"] = static_cast<double>(epoch + 1);
  row["step"] = static_cast<double>(progress.step);
  // The rate of the epoch's last step: a function of the step count alone, so a resumed run
  // logs the same value.
  row["lr"] = p_.step->lr(epoch, std::max<int64_t>(0, progress.step - 1));
  double loss_sum = progress.loss_sum, loss_count = static_cast<double>(progress.loss_count);
  if (p_.dist && p_.dist->active()) {
    // The training loss of the whole epoch, the same on every rank (early stopping may watch it).
    std::vector<double> sums{loss_sum, loss_count};
    p_.dist->reduce_sums(sums);
    loss_sum = sums[0];
    loss_count = sums[1];
  }
  row["train_loss"] = loss_count > 0 ? loss_sum / loss_count : NAN;
  const bool eval_now = (epoch + 1) % o_.eval_every == 0 || epoch + 1 == state.total_epochs;
  if (s_.val && eval_now) {
    TrainStep::EmaWeights ema(*p_.step);
    EvalResult r = p_.evaluator->evaluate(*s_.val, {"val", {}, {}});
    note_skipped(state, "val", epoch, r.skipped);
    row.insert(r.values.begin(), r.values.end());
  }
  interrupted_in_validation = interrupted_everywhere();
  return row;
}

void FitLoop::run(TrainState& state) {
  LoopState& progress = state.progress;
  p_.callbacks->fit_start(state);
  for (int64_t epoch = progress.epoch; epoch < state.total_epochs && !state.stop_requested(); ++epoch) {
    progress.epoch = epoch;
    apply_stage(epoch);
    const auto t0 = std::chrono::steady_clock::now();
    data_wait_s_ = 0;
    p_.callbacks->epoch_start(state, epoch);
    train_epoch(state, epoch);
    if (state.stop_requested()) {
      if (state.status == RunStatus::Interrupted) {
        if (p_.dist && p_.dist->active()) {
          // The checkpoint rank 0 writes holds the unfinished epoch's loss summed over all ranks;
          // a resumed run continues it on rank 0 alone (callbacks/resume.h).
          std::vector<double> sums{progress.loss_sum, static_cast<double>(progress.loss_count)};
          p_.dist->reduce_sums(sums);
          progress.loss_sum = sums[0];
          progress.loss_count = static_cast<int64_t>(sums[1]);
        }
        p_.callbacks->interrupt(state);
      }
      break;
    }
    bool interrupted_in_validation = false;
    MetricsRow row = epoch_row(state, epoch, interrupted_in_validation);
    row["time_epoch_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // How much of the epoch the training step waited for data: near 0, the step is the limit; a large
    // share, the loader (more workers, a cheaper decode or augmentation).
    row["time_data_wait_s"] = data_wait_s_;
    for (const auto& [k, v] : take_memory_peaks(p_.runtime->device)) row[k] = v;
    if (auto* scaler = p_.step->scaler()) {
      row["amp_loss_scale"] = scaler->current_scale();
      row["amp_skipped_steps"] = static_cast<double>(scaler->skipped_steps());
    }
    progress.epoch = epoch + 1;
    progress.batches_done = 0;
    if (interrupted_in_validation) {
      // The epoch's training is complete: keep it (the checkpoint), skip its row.
      state.request_stop(RunStatus::Interrupted, "interrupted after epoch " + std::to_string(epoch + 1));
      p_.callbacks->interrupt(state);
      break;
    }
    progress.loss_sum = 0;
    progress.loss_count = 0;
    state.history.push_back(row);
    ++state.epochs_done;
    p_.callbacks->epoch_end(state, row);
    if (interrupted_everywhere())
      state.request_stop(RunStatus::Interrupted, "interrupted after epoch " + std::to_string(epoch + 1));
  }
  next_loader_.reset();  // a stop before the last epoch: its workers are not needed
  summarize(state);
  if (state.status == RunStatus::Finished && s_.test) test(state);
  state.summary["skipped_samples"] = static_cast<double>(state.skipped_samples);
  state.summary["steps"] = static_cast<double>(progress.step);
  for (const auto& row : state.history)
    for (const auto& [k, v] : row)
      if (k.rfind("mem_", 0) == 0) {
        // Each epoch's value is already that epoch's peak: the run's is their maximum, under the
        // same name (mem_peak_rss_mb, mem_gpu_peak_allocated_mb, ...).
        double& peak = state.summary[k];
        peak = std::max(peak, v);
      }
  if (auto* scaler = p_.step->scaler()) state.summary["amp_skipped_steps"] = static_cast<double>(scaler->skipped_steps());
  p_.callbacks->fit_end(state);
}

void FitLoop::summarize(TrainState& state) {
  auto& summary = state.summary;
  if (state.progress.best) {
    summary["best_" + state.monitor.name] = *state.progress.best;
    summary["best_epoch"] = static_cast<double>(state.progress.best_epoch);
  }
  if (!state.history.empty())
    for (const auto& [k, v] : state.history.back())
      if (k != "epoch" && k != "step" && k.rfind("time_", 0) != 0 && k.rfind("mem_", 0) != 0) summary["final_" + k] = v;
}

void FitLoop::test(TrainState& state) {
  // Test what a user would deploy: the best checkpoint (already EMA weights when EMA evaluates),
  // unless the last epoch is the best or the run keeps no checkpoints.
  const LoopState& progress = state.progress;
  std::error_code ec;
  bool from_best = o_.checkpoint.test_with == "best" && progress.best && progress.best_epoch != progress.epoch &&
                         !p_.best_checkpoint.empty() && fs::exists(p_.best_checkpoint, ec);
  std::optional<TrainStep::EmaWeights> ema;
  const bool data_parallel = p_.dist && p_.dist->active();
  if (data_parallel) from_best = p_.dist->any(from_best);  // rank 0 holds the checkpoints
  if (from_best) {
    if (!p_.best_checkpoint.empty()) load_model_weights(p_.best_checkpoint, *s_.model, p_.runtime->device);
    if (data_parallel) {
      torch::NoGradGuard no_grad;
      for (auto& t : s_.model->parameters()) p_.dist->broadcast(t.data());
      for (auto& t : s_.model->buffers()) p_.dist->broadcast(t);
    }
    p_.log->line("testing the best checkpoint (epoch " + std::to_string(progress.best_epoch) + ")");
  } else {
    ema.emplace(*p_.step);
  }
  state.summary["test_epoch"] = static_cast<double>(from_best ? progress.best_epoch : progress.epoch);
  EvalResult r = p_.evaluator->evaluate(*s_.test, {"test", {}, {}});
  note_skipped(state, "test", state.total_epochs, r.skipped);
  state.summary.insert(r.values.begin(), r.values.end());
  p_.callbacks->test_end(state);
}

}  // namespace xp::engine
