#include "engine/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <iomanip>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <dlfcn.h>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/cuda.h>

#include "data/data_loader.h"
#include "engine/checkpoint.h"
#include "engine/device_memory.h"
#include "engine/mixed_precision.h"
#include "engine/lr_schedule.h"
#include "engine/param_groups.h"
#include "engine/progress.h"
#include "xp/base/duration.h"
#include "engine/run_files.h"
#include "engine/tensorboard_writer.h"
#include "eval/calibration.h"
#include "eval/tta.h"
#include "xp/base/suggest.h"
#include "training/early_stopping.h"
#include "training/weight_ema.h"
#include "xp/errors.h"
#include "xp/rng.h"

namespace xp::engine {

namespace {

namespace fs = std::filesystem;

// Serializes calls into the recorder: the heartbeat thread and the trainer share it.
class LockedRecorder {
 public:
  LockedRecorder(RunRecorder* r, std::string id) : r_(r), id_(std::move(id)) {}
  template <class F>
  void call(F&& f) {
    if (!r_) return;
    std::lock_guard<std::mutex> lock(mutex_);
    f(*r_, id_);
  }

 private:
  RunRecorder* r_;
  std::string id_;
  std::mutex mutex_;
};

// Beats every `period` seconds from its own thread until destroyed.
class Heartbeat {
 public:
  Heartbeat(LockedRecorder& recorder, double period) {
    if (period <= 0) return;
    thread_ = std::thread([this, &recorder, period] {
      std::unique_lock<std::mutex> lock(mutex_);
      while (!cv_.wait_for(lock, std::chrono::duration<double>(period), [&] { return done_; })) {
        lock.unlock();
        try {
          recorder.call([](RunRecorder& r, const std::string& id) { r.heartbeat(id); });
        } catch (...) {
          // A registry hiccup must not end a training run; the next beat tries again.
        }
        lock.lock();
      }
    });
  }
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
};

torch::Device resolve_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available())
      throw ConfigError("train.device = '" + name + "' but this LibTorch build or machine has no CUDA device; use "
                        "'cpu' or 'auto'");
    try {
      return torch::Device(name);
    } catch (const std::exception&) {
      throw ConfigError("train.device = '" + name + "' is not a device name (use cpu, cuda or cuda:N)");
    }
  }
  throw ConfigError("train.device = '" + name + "' is not a device name (use auto, cpu, cuda or cuda:N)" +
                    did_you_mean(name, {"auto", "cpu", "cuda"}));
}

// A loader pipeline whose pixel conversion (and final `normalize`) runs on the training device.
struct DeferredConversion {
  std::vector<std::shared_ptr<Augmentation>> augment;  // the pipeline without that `normalize`
  data::PixelConversion host, device;                  // the loader's copy and the trainer's
};

DeferredConversion defer_conversion(const std::vector<std::shared_ptr<Augmentation>>& augment,
                                    const std::optional<PixelNormalization>& final_normalize, const torch::Device& device) {
  DeferredConversion d{augment, data::PixelConversion::unit_range(), {}};
  if (final_normalize && !augment.empty()) {
    d.augment.pop_back();
    d.host = data::PixelConversion::normalize(final_normalize->mean, final_normalize->std,
                                              final_normalize->max_pixel_value);
  }
  d.device = d.host.to(device);
  return d;
}

// Moves a batch to the device; a uint8 batch (deferred conversion) becomes float there.
Batch to_device(Batch batch, const torch::Device& device, bool channels_last, const DeferredConversion* deferred) {
  if (!device.is_cpu()) {
    auto move = [&](torch::Tensor& t) {
      if (t.defined()) t = t.to(device, /*non_blocking=*/true);
    };
    move(batch.input);
    move(batch.target);
    move(batch.soft_target);
    move(batch.index);
    for (auto& [k, t] : batch.extra) {
      (void)k;
      move(t);
    }
  }
  if (batch.input.scalar_type() == torch::kUInt8) {
    if (!deferred) throw std::logic_error("a uint8 batch reached the trainer without its pixel conversion");
    batch.input = deferred->device.apply(batch.input);  // channels_last strides already
    if (!channels_last) batch.input = batch.input.contiguous();
  } else if (channels_last && batch.input.dim() == 4) {
    batch.input = batch.input.contiguous(torch::MemoryFormat::ChannelsLast);
  }
  return batch;
}

NamedParameters named_parameters(Model& model, Loss& loss) {
  NamedParameters out;
  for (const auto& p : model.named_parameters(true)) out.emplace_back(p.key(), p.value());
  for (const auto& p : loss.named_parameters(true)) out.emplace_back("loss." + p.key(), p.value());
  return out;
}

bool better(double value, double best, const std::string& mode, double min_delta = 0.0) {
  return mode == "max" ? value > best + min_delta : value < best - min_delta;
}

// The metric name without its split prefix: "val_iou" -> "iou", "test_cal_f1" -> "f1".
std::string metric_stem(const std::string& key) {
  for (const char* prefix : {"test_cal_", "train_", "val_", "test_"})
    if (key.rfind(prefix, 0) == 0) return key.substr(std::char_traits<char>::length(prefix));
  return key;
}

// One console line per epoch: the losses first, then the metrics `stems` names (all of them when
// empty), then the learning rate. Every value still goes to metrics.csv and the registry.
std::string format_row(const std::map<std::string, double>& row, const std::vector<std::string>& stems = {}) {
  std::ostringstream os;
  auto put = [&](const std::string& k, double v) {
    os << "  " << k << " ";
    if (k == "lr") os << std::scientific << std::setprecision(2) << v << std::defaultfloat;
    else os << std::fixed << std::setprecision(4) << v << std::defaultfloat;
  };
  auto is_loss = [](const std::string& k) { return metric_stem(k) == "loss"; };
  for (const auto& [k, v] : row)
    if (is_loss(k)) put(k, v);
  auto system = [](const std::string& k) {
    return k.rfind("time_", 0) == 0 || k.rfind("mem_", 0) == 0 || k.rfind("amp_", 0) == 0;
  };
  for (const auto& [k, v] : row) {
    if (is_loss(k) || k == "epoch" || k == "step" || k == "lr" || system(k)) continue;
    if (stems.empty() || std::find(stems.begin(), stems.end(), metric_stem(k)) != stems.end()) put(k, v);
  }
  if (auto it = row.find("lr"); it != row.end()) put("lr", it->second);
  // Memory as the rice notes print it: process peak, and the GPU allocator's peaks on CUDA.
  if (auto it = row.find("mem_peak_rss_mb"); it != row.end()) os << "  rss " << std::lround(it->second) << "M";
  auto alloc = row.find("mem_gpu_peak_allocated_mb"), reserved = row.find("mem_gpu_peak_reserved_mb");
  if (alloc != row.end() && reserved != row.end())
    os << "  gpu " << std::lround(alloc->second) << "/" << std::lround(reserved->second) << "M";
  if (auto it = row.find("amp_skipped_steps"); it != row.end() && it->second > 0)
    os << "  amp_skipped " << std::lround(it->second);
  return os.str();
}

struct CollectedOutputs {
  std::vector<torch::Tensor> logits, targets;
};

class Loop {
 public:
  Loop(TrainSetup& s, const TrainContext& c)
      : s_(s), c_(c), o_(s.options), out_(*c.out), files_(c.run_dir), recorder_(c.recorder, c.run_id) {}

  TrainResult run();

 private:
  void setup();
  void train_epoch(int64_t epoch);
  void optimizer_step(int64_t epoch);
  // TensorBoard: per-step loss and lr, sample inputs, each epoch's row, the summary at the end.
  void tensorboard_step(int64_t epoch);
  void tensorboard_images(const torch::Tensor& input);
  void tensorboard_row(const std::map<std::string, double>& row);
  void tensorboard_finish(const std::map<std::string, double>& summary);
  // `adjust` rewrites the logits before the loss and metrics see them (calibration); `collected`
  // receives every logit and target (calibration fits on them).
  std::map<std::string, double> evaluate(const Split& split, const std::string& prefix, int64_t epoch,
                                         const std::function<torch::Tensor(const torch::Tensor&)>& adjust = {},
                                         CollectedOutputs* collected = nullptr);
  ModelOutput predict(const torch::Tensor& input);
  void calibrate_and_test(std::map<std::string, double>& summary);
  void log(const std::string& line);
  void note_skipped(const std::string& split, int64_t epoch, const std::vector<data::SkippedSample>& skipped);
  CheckpointParts parts();
  double base_lr(int64_t epoch) const;
  double current_lr(int64_t epoch) const;
  void apply_stage(int64_t epoch);
  void update_ema();
  void swap_ema();
  bool early_stop(const std::string& value_key);

  TrainSetup& s_;
  const TrainContext& c_;
  const TrainOptions& o_;
  std::ostream& out_;
  RunFiles files_;
  LockedRecorder recorder_;
  torch::Device device_{torch::kCPU};
  c10::ScalarType amp_dtype_ = torch::kFloat;   // autocast dtype; kFloat = off
  std::unique_ptr<DynamicLossScaler> scaler_;   // fp16 only
  bool channels_last_ = false;
  std::optional<DeferredConversion> train_conversion_, eval_conversion_;  // train.normalize_on_device
  std::vector<std::string> console_keys_;  // metric stems on the console line; empty = all
  NamedParameters params_;
  OptimizerWithGroups optimizer_;
  std::unique_ptr<LrSchedule> schedule_;
  int64_t steps_per_epoch_ = 0, batches_per_epoch_ = 0, total_epochs_ = 0;
  LoopState state_;
  int64_t current_stage_ = -2;
  std::unique_ptr<WeightEma> ema_;
  TrainResult result_;
  bool stop_ = false;
  std::unique_ptr<TensorBoardWriter> tensorboard_;  // null when train.tensorboard is off or no run folder
  // Training loss read since the last logged step (on CUDA only what the lazy loss read has settled).
  double tb_loss_sum_ = 0;
  int64_t tb_loss_count_ = 0;
};

void Loop::log(const std::string& line) {
  out_ << line << "\n" << std::flush;
  files_.log(line);
}

void Loop::note_skipped(const std::string& split, int64_t epoch, const std::vector<data::SkippedSample>& skipped) {
  for (const auto& k : skipped) {
    log("skipped " + split + " sample " + std::to_string(k.index) + " (" + k.reason + ")");
    files_.add_skipped(split, epoch + 1, k.index, k.source, k.reason);
  }
  result_.skipped_samples += static_cast<int64_t>(skipped.size());
}

CheckpointParts Loop::parts() {
  CheckpointParts p;
  p.model = s_.model.get();
  p.loss = s_.loss.get();
  p.optimizer = optimizer_.optimizer.get();
  p.ema = ema_.get();
  p.scaler = scaler_.get();
  return p;
}

double Loop::base_lr(int64_t epoch) const {
  double lr = o_.optimizer.lr;
  const int64_t stage = o_.stage_of(epoch);
  if (stage >= 0) {
    const auto& st = o_.stages[stage];
    if (st.lr > 0) lr = st.lr;
    lr *= st.lr_scale;
  }
  return lr;
}

double Loop::current_lr(int64_t epoch) const { return schedule_->lr(state_.step, base_lr(epoch)); }

void Loop::apply_stage(int64_t epoch) {
  const int64_t stage = o_.stage_of(epoch);
  if (stage == current_stage_) return;
  current_stage_ = stage;
  if (stage < 0) return;
  const size_t frozen = apply_freeze(params_, o_.stages[stage].freeze);
  log("stage " + std::to_string(stage + 1) + "/" + std::to_string(o_.stages.size()) + ": " + std::to_string(frozen) +
      " of " + std::to_string(params_.size()) + " parameter tensors frozen, base lr " +
      [&] { std::ostringstream os; os << base_lr(epoch); return os.str(); }());
}

void Loop::update_ema() {
  if (ema_) ema_->update(*s_.model);
}

// Evaluation and checkpoints use the averaged weights when asked to; a second call swaps back.
void Loop::swap_ema() {
  if (ema_ && o_.ema.evaluate) ema_->swap(*s_.model);
}

void Loop::setup() {
  if (!s_.model || !s_.loss || !s_.train) throw std::invalid_argument("train: model, loss and train split are required");
  // 0 = every core, set explicitly: LibTorch's own default can be a single thread (Debian's 1.13
  // build on a 2-core machine trained Fashion-MNIST 1.4x slower without this).
  const auto cores = static_cast<int64_t>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(static_cast<int>(o_.threads > 0 ? o_.threads : cores));
  // LibTorch's CPU convolutions (without oneDNN, as Debian builds it) split the batch over its own
  // threads and call BLAS from each; a multi-threaded OpenBLAS inside them oversubscribes the cores
  // (measured: 1.5x slower per epoch on 2 cores). Found at run time: any BLAS, or none, may be loaded.
  using SetBlasThreads = void (*)(int);
  if (auto set_blas = reinterpret_cast<SetBlasThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
    set_blas(1);
  device_ = resolve_device(o_.device);
  console_keys_ = o_.console;
  amp_dtype_ = precision_dtype(o_.precision);
  if (amp_dtype_ != torch::kFloat && !device_.is_cuda()) {
    // The same experiment file runs on a laptop and on a GPU server: mixed precision is a CUDA
    // speed-up, so on CPU the run trains in fp32 and says so (the run records `precision_effective`).
    log("note: train.precision = '" + o_.precision + "' applies to CUDA; this run trains in fp32 on " + device_.str());
    amp_dtype_ = torch::kFloat;
  }
  if (amp_dtype_ == torch::kHalf) scaler_ = std::make_unique<DynamicLossScaler>();
  if (device_.is_cuda()) at::globalContext().setBenchmarkCuDNN(o_.cudnn_benchmark);
  channels_last_ = o_.channels_last && device_.is_cuda();
  if (o_.normalize_on_device == "on" || (o_.normalize_on_device == "auto" && device_.is_cuda())) {
    train_conversion_ = defer_conversion(s_.augment, s_.augment_final_normalize, device_);
    eval_conversion_ = defer_conversion(s_.eval_augment, s_.eval_final_normalize, device_);
    log(std::string("images leave the loader as uint8 and become float") +
        (s_.augment_final_normalize ? " (normalize included)" : "") + " on " + device_.str() +
        " (train.normalize_on_device = " + o_.normalize_on_device + ")");
  }
  s_.model->to(device_);
  s_.loss->to(device_);
  if (channels_last_) {
    torch::NoGradGuard no_grad;
    for (auto& p : s_.model->parameters())
      if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
  }
  params_ = named_parameters(*s_.model, *s_.loss);
  if (params_.empty()) throw ConfigError("the model has no parameters to train");
  optimizer_ = build_optimizer(o_.optimizer, params_);
  if (o_.ema.enabled) ema_ = std::make_unique<WeightEma>(*s_.model, o_.ema.decay);

  total_epochs_ = o_.total_epochs();
  const int64_t n = static_cast<int64_t>(epoch_order(s_, 0).size());
  batches_per_epoch_ = o_.drop_last ? n / o_.batch_size : (n + o_.batch_size - 1) / o_.batch_size;
  if (batches_per_epoch_ == 0)
    throw ConfigError("the training split has " + std::to_string(n) + " samples, fewer than train.batch_size = " +
                      std::to_string(o_.batch_size) + " (with drop_last); lower the batch size");
  steps_per_epoch_ = (batches_per_epoch_ + o_.accumulate - 1) / o_.accumulate;
  if (o_.max_steps_per_epoch > 0) {
    steps_per_epoch_ = std::min(steps_per_epoch_, o_.max_steps_per_epoch);
    batches_per_epoch_ = std::min(batches_per_epoch_, steps_per_epoch_ * o_.accumulate);
  }
  schedule_ = std::make_unique<LrSchedule>(o_.schedule, steps_per_epoch_, steps_per_epoch_ * total_epochs_);
}

void Loop::optimizer_step(int64_t epoch) {
  set_learning_rate(optimizer_, current_lr(epoch));
  if (scaler_) {
    std::vector<torch::Tensor> all;
    for (const auto& [name, p] : params_) all.push_back(p);
    const bool finite = scaler_->unscale(all);
    scaler_->update(finite);
    if (!finite) {
      // fp16 overflow: skip this update (the scale has backed off); the schedule still advances,
      // as torch.cuda.amp does.
      clear_gradients(params_);
      ++state_.step;
      return;
    }
  }
  if (o_.grad_clip > 0) {
    std::vector<torch::Tensor> with_grad;
    for (const auto& [name, p] : params_) {
      (void)name;
      if (p.grad().defined()) with_grad.push_back(p);
    }
    torch::nn::utils::clip_grad_norm_(with_grad, o_.grad_clip);
  }
  optimizer_.optimizer->step();
  clear_gradients(params_);
  update_ema();
  ++state_.step;
}

void Loop::tensorboard_step(int64_t epoch) {
  if (!tensorboard_ || state_.step % o_.tensorboard.log_every_n_steps != 0) return;
  // The rate this step used (the schedule is a function of the step count, as for the epoch row).
  tensorboard_->scalar("step/lr", state_.step, schedule_->lr(state_.step - 1, base_lr(epoch)));
  if (tb_loss_count_ == 0) return;  // CUDA: nothing read since the last point; the next one has it
  tensorboard_->scalar("step/train_loss", state_.step, tb_loss_sum_ / static_cast<double>(tb_loss_count_));
  tb_loss_sum_ = 0;
  tb_loss_count_ = 0;
}

void Loop::tensorboard_images(const torch::Tensor& input) {
  if (!tensorboard_ || o_.tensorboard.images <= 0) return;
  const auto images = batch_to_pixels(input, o_.tensorboard.images, c_.pixel_normalization);
  for (size_t i = 0; i < images.size(); ++i)
    tensorboard_->image("train_inputs/" + std::to_string(i), state_.step, images[i]);
}

// Every value of the epoch's row (as in metrics.csv) at the step the epoch ended on; then a flush,
// so TensorBoard shows the epoch as soon as it is logged.
void Loop::tensorboard_row(const std::map<std::string, double>& row) {
  if (!tensorboard_) return;
  for (const auto& [k, v] : row)
    if (k != "epoch" && k != "step") tensorboard_->scalar("epoch/" + k, state_.step, v);
  tensorboard_->flush();
}

void Loop::tensorboard_finish(const std::map<std::string, double>& summary) {
  if (!tensorboard_) return;
  // An interrupted run is resumed into the same session: no summary or end yet.
  if (result_.status != RunStatus::Interrupted) {
    for (const auto& [k, v] : summary) tensorboard_->scalar("summary/" + k, result_.steps, v);
    tensorboard_->session_end(result_.steps, result_.status == RunStatus::Finished
                                                 ? tensorboard::SessionStatus::Success
                                                 : tensorboard::SessionStatus::Failure);
  }
  tensorboard_->flush();
}

void Loop::train_epoch(int64_t epoch) {
  s_.model->train();
  s_.loss->train();
  const bool resuming_mid_epoch = state_.batches_done > 0;
  if (!resuming_mid_epoch) {
    // Reseeding per epoch makes dropout and any other torch draw a function of (seed, epoch).
    torch::manual_seed(Rng::mix(s_.seed, static_cast<uint64_t>(epoch), 0x70c4));
    state_.loss_sum = 0;
    state_.loss_count = 0;
  }
  data::LoaderOptions lo;
  lo.batch_size = o_.batch_size;
  lo.drop_last = o_.drop_last;
  lo.workers = resolve_workers(o_.workers, device_.is_cuda());
  lo.prefetch = o_.prefetch;
  lo.seed = s_.seed;
  lo.task = s_.info.task;
  lo.pin_memory = o_.pin_memory && device_.is_cuda();
  if (train_conversion_) lo.deferred_conversion = train_conversion_->host;
  data::EpochLoader loader(s_.train, train_conversion_ ? train_conversion_->augment : s_.augment, lo, epoch,
                           epoch_order(s_, epoch));

  // An interrupted epoch: replay the loader up to where it stopped (the same batches, so the
  // skipped-sample bookkeeping matches), then continue with torch's saved generator state.
  for (int64_t b = 0; b < state_.batches_done; ++b)
    if (!loader.next()) break;

  ProgressBar bar(out_, c_.tty, "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(total_epochs_),
                  batches_per_epoch_);
  int64_t batch_index = state_.batches_done, micro = 0;
  const int64_t start_batch = batch_index;
  auto diverge = [&](double value, int64_t first_batch, int64_t last_batch) {
    stop_ = true;
    result_.status = RunStatus::Diverged;
    std::ostringstream os;
    os << "loss is " << value << " at epoch " << epoch + 1 << ", batch " << first_batch;
    if (last_batch != first_batch) os << "-" << last_batch;
    os << " (step " << state_.step << ", lr " << current_lr(epoch)
       << "); lower the learning rate, enable train.grad_clip or check the data";
    result_.message = os.str();
  };
  // On CUDA, reading the loss after every batch would make the CPU wait for the GPU each step and
  // leave it idle while the next step is queued: the loss is summed on the device and read every
  // kLossReadEvery batches, so a NaN is caught within that window. On CPU it is read every batch.
  const bool lazy_loss = device_.is_cuda();
  constexpr int64_t kLossReadEvery = 25;
  torch::Tensor pending_loss;
  int64_t pending_count = 0, pending_from = batch_index + 1;
  auto settle_loss = [&]() -> bool {
    if (!pending_loss.defined()) return true;
    const double sum = pending_loss.item<double>();
    pending_loss = torch::Tensor();
    if (!std::isfinite(sum)) {
      diverge(sum, pending_from, batch_index);
      return false;
    }
    state_.loss_sum += sum;
    state_.loss_count += pending_count;
    tb_loss_sum_ += sum;
    tb_loss_count_ += pending_count;
    pending_count = 0;
    pending_from = batch_index + 1;
    return true;
  };
  while (batch_index < batches_per_epoch_) {
    if (micro == 0 && c_.interrupt && c_.interrupt->load()) {
      if (!settle_loss()) break;
      stop_ = true;
      result_.status = RunStatus::Interrupted;
      result_.message = "interrupted at epoch " + std::to_string(epoch + 1) + ", batch " + std::to_string(batch_index);
      break;
    }
    auto next = loader.next();
    if (!next) break;
    // Batch transforms (mixup, cutmix) see float inputs on the device: after a deferred conversion.
    Batch batch = to_device(std::move(*next), device_, channels_last_, train_conversion_ ? &*train_conversion_ : nullptr);
    if (!s_.batch_augment.empty()) {
      Rng rng(Rng::mix(s_.seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(batch_index), 0xba7c));
      for (const auto& a : s_.batch_augment) a->apply(batch, s_.info.num_classes, rng);
    }
    if (epoch == 0 && batch_index == 0) tensorboard_images(batch.input);  // once per run: its device sync is free
    torch::Tensor loss;
    {
      AutocastScope autocast(amp_dtype_);
      ModelOutput output = s_.model->forward(batch.input);
      loss = s_.loss->forward(output, batch);
    }
    if (lazy_loss) {
      torch::Tensor weighted = loss.detach().to(torch::kDouble) * static_cast<double>(batch.size());
      pending_loss = pending_loss.defined() ? pending_loss + weighted : weighted;
      pending_count += batch.size();
    } else {
      const double value = loss.item<double>();
      if (!std::isfinite(value)) {
        diverge(value, batch_index + 1, batch_index + 1);
        break;
      }
      state_.loss_sum += value * static_cast<double>(batch.size());
      state_.loss_count += batch.size();
      tb_loss_sum_ += value * static_cast<double>(batch.size());
      tb_loss_count_ += batch.size();
    }
    if (o_.accumulate > 1) loss = loss / static_cast<double>(o_.accumulate);
    (scaler_ ? scaler_->scale(loss) : loss).backward();
    ++batch_index;
    if (++micro == o_.accumulate) {
      micro = 0;
      optimizer_step(epoch);
      tensorboard_step(epoch);
      state_.batches_done = batch_index;
      if (c_.on_step) c_.on_step(epoch, state_.step);
    }
    if (lazy_loss && (batch_index % kLossReadEvery == 0 || batch_index == batches_per_epoch_) && !settle_loss()) break;
    bar.update(batch_index, state_.loss_count ? state_.loss_sum / static_cast<double>(state_.loss_count) : 0.0);
  }
  if (!stop_ && !settle_loss()) {
    bar.finish();
    return;
  }
  // A last partial accumulation still updates the weights.
  if (!stop_ && micro > 0) {
    optimizer_step(epoch);
    tensorboard_step(epoch);
  }
  bar.finish();
  note_skipped("train", epoch, loader.skipped());
  if (!stop_ && batch_index == start_batch && batches_per_epoch_ > 0)
    throw std::runtime_error("epoch " + std::to_string(epoch + 1) +
                             " produced no batch: every training sample was skipped or the sampler returned nothing");
}

ModelOutput Loop::predict(const torch::Tensor& input) {
  if (o_.tta == "none") return s_.model->forward(input);
  // Metrics and losses expect logits: map the averaged probabilities back to logit space.
  torch::Tensor p = predict_probabilities(*s_.model, input, s_.info.task, o_.tta).clamp(1e-7, 1 - 1e-7);
  const bool binary = s_.info.task == Task::Segmentation && p.size(1) == 1;
  return {binary ? torch::log(p) - torch::log1p(-p) : torch::log(p), {}};
}

std::map<std::string, double> Loop::evaluate(const Split& split, const std::string& prefix, int64_t epoch,
                                             const std::function<torch::Tensor(const torch::Tensor&)>& adjust,
                                             CollectedOutputs* collected) {
  torch::NoGradGuard no_grad;
  s_.model->eval();
  s_.loss->eval();
  for (auto& m : s_.metrics) m->reset();
  data::LoaderOptions lo;
  lo.batch_size = o_.eval_batch_size > 0 ? o_.eval_batch_size : o_.batch_size;
  lo.drop_last = false;
  lo.workers = resolve_workers(o_.workers, device_.is_cuda());
  lo.prefetch = o_.prefetch;
  lo.seed = s_.seed;
  lo.task = s_.info.task;
  lo.pin_memory = o_.pin_memory && device_.is_cuda();
  std::vector<int64_t> order(split.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  // Evaluation transforms are drawn with epoch -1: the same for every evaluation.
  std::shared_ptr<const Split> alias(std::shared_ptr<const Split>{}, &split);
  if (eval_conversion_) lo.deferred_conversion = eval_conversion_->host;
  data::EpochLoader loader(alias, eval_conversion_ ? eval_conversion_->augment : s_.eval_augment, lo, -1,
                           std::move(order));
  double loss_sum = 0;
  int64_t count = 0;
  ProgressBar bar(out_, c_.tty, prefix, loader.expected_batches());
  int64_t done = 0;
  while (auto next = loader.next()) {
    if (c_.interrupt && c_.interrupt->load()) break;
    Batch batch = to_device(std::move(*next), device_, channels_last_, eval_conversion_ ? &*eval_conversion_ : nullptr);
    ModelOutput output;
    {
      AutocastScope autocast(amp_dtype_);
      output = predict(batch.input);
    }
    if (output.logits.scalar_type() != torch::kFloat) output.logits = output.logits.to(torch::kFloat);
    if (adjust) output.logits = adjust(output.logits);
    if (collected) {
      collected->logits.push_back(output.logits.detach().to(torch::kCPU));
      collected->targets.push_back(batch.target.detach().to(torch::kCPU));
    }
    loss_sum += s_.loss->forward(output, batch).item<double>() * static_cast<double>(batch.size());
    count += batch.size();
    for (auto& m : s_.metrics) m->update(output, batch);
    bar.update(++done, count ? loss_sum / static_cast<double>(count) : 0.0);
  }
  bar.finish();
  note_skipped(prefix, epoch, loader.skipped());
  std::map<std::string, double> values;
  if (count == 0) return values;
  values[prefix + "_loss"] = loss_sum / static_cast<double>(count);
  for (auto& m : s_.metrics)
    for (const auto& [k, v] : m->compute()) values[prefix + "_" + k] = v;
  return values;
}

bool Loop::early_stop(const std::string& value_key) {
  // Replays the history, so a resumed run stops exactly where the uninterrupted one would.
  const auto& es = o_.early_stopping;
  EarlyStopping stopper({es.mode == "max", es.patience, es.min_delta, es.start_epoch, es.window});
  bool stop = false;
  for (const auto& row : result_.history) {
    auto e = row.find("epoch");
    auto v = row.find(value_key);
    if (e != row.end() && v != row.end()) stop = stopper.update(static_cast<int64_t>(e->second), v->second);
  }
  return stop;
}

TrainResult Loop::run() {
  setup();
  Heartbeat heartbeat(recorder_, c_.recorder ? c_.heartbeat_seconds : 0);
  const fs::path last = c_.run_dir.empty() ? fs::path() : c_.run_dir / "checkpoints" / "last.pt";
  const fs::path best = c_.run_dir.empty() ? fs::path() : c_.run_dir / "checkpoints" / "best.pt";
  if (c_.resume) {
    if (last.empty() || !fs::exists(last))
      throw ConfigError("cannot resume: no checkpoint at " + (last.empty() ? std::string("(no run folder)") : last.string()));
    state_ = load_checkpoint(last, parts(), device_);
    result_.history = files_.read_metrics();
    // Rows past the checkpoint (written after it, before a crash) would be duplicated.
    while (!result_.history.empty() && result_.history.back()["epoch"] > static_cast<double>(state_.epoch)) result_.history.pop_back();
    log("resumed from " + last.string() + " at epoch " + std::to_string(state_.epoch + 1) + ", batch " +
        std::to_string(state_.batches_done) + ", step " + std::to_string(state_.step));
  }
  if (o_.tensorboard.enabled && !c_.run_dir.empty()) {
    tensorboard_ = std::make_unique<TensorBoardWriter>(c_.run_dir / "tensorboard");
    tensorboard_->session_start(c_.hparams);
  }
  const auto& ck = o_.checkpoint;
  std::string monitor = ck.monitor;
  std::string monitor_mode = ck.mode;
  if (!s_.val && monitor.rfind("val_", 0) == 0) {
    // Without a validation split the only per-epoch signal is the training loss.
    log("note: no val split; checkpoint.monitor '" + monitor + "' falls back to train_loss (min)");
    monitor = "train_loss";
    monitor_mode = "min";
  }

  for (int64_t epoch = state_.epoch; epoch < total_epochs_ && !stop_; ++epoch) {
    state_.epoch = epoch;
    apply_stage(epoch);
    auto t0 = std::chrono::steady_clock::now();
    train_epoch(epoch);
    if (stop_) {
      if (result_.status == RunStatus::Interrupted && !last.empty()) {
        {
          // Save the generator as it is now: the resumed run continues this epoch's draws.
          save_checkpoint(last, parts(), state_);
        }
        recorder_.call([&](RunRecorder& r, const std::string& id) { r.add_artifact(id, last.string(), "checkpoint"); });
      }
      break;
    }
    std::map<std::string, double> row;
    row["epoch"] = static_cast<double>(epoch + 1);
    row["step"] = static_cast<double>(state_.step);
    // The rate of the epoch's last step: a function of the step count alone, so a resumed run
    // logs the same value.
    row["lr"] = schedule_->lr(std::max<int64_t>(0, state_.step - 1), base_lr(epoch));
    row["train_loss"] = state_.loss_count ? state_.loss_sum / static_cast<double>(state_.loss_count) : NAN;
    const bool eval_now = (epoch + 1) % o_.eval_every == 0 || epoch + 1 == total_epochs_;
    if (s_.val && eval_now) {
      swap_ema();
      auto values = evaluate(*s_.val, "val", epoch);
      swap_ema();
      row.insert(values.begin(), values.end());
    }
    row["time_epoch_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (const auto& [k, v] : take_memory_peaks(device_)) row[k] = v;
    if (scaler_) {
      row["amp_loss_scale"] = scaler_->current_scale();
      row["amp_skipped_steps"] = static_cast<double>(scaler_->skipped_steps());
    }
    if (c_.interrupt && c_.interrupt->load()) {
      // Interrupted during validation: the epoch's training is complete; keep it, skip the row.
      state_.epoch = epoch + 1;
      state_.batches_done = 0;
      if (!last.empty()) save_checkpoint(last, parts(), state_);
      result_.status = RunStatus::Interrupted;
      result_.message = "interrupted after epoch " + std::to_string(epoch + 1);
      stop_ = true;
      break;
    }
    result_.history.push_back(row);
    ++result_.epochs_done;
    tensorboard_row(row);

    // Monitor, checkpoints, records.
    auto mon = row.find(monitor);
    if (mon == row.end() && eval_now) {
      std::vector<std::string> keys;
      for (const auto& [k, v] : row) keys.push_back(k);
      (void)mon;
      throw ConfigError("train.checkpoint.monitor = '" + monitor + "' is not a logged metric" +
                        did_you_mean(monitor, keys));
    }
    bool improved = false;
    if (mon != row.end() && std::isfinite(mon->second) &&
        (!state_.best || better(mon->second, *state_.best, monitor_mode))) {
      state_.best = mon->second;
      state_.best_epoch = epoch + 1;
      improved = true;
    }
    state_.epoch = epoch + 1;
    state_.batches_done = 0;
    state_.loss_sum = 0;
    state_.loss_count = 0;
    if (!last.empty()) {
      swap_ema();
      if (improved) save_checkpoint(best, parts(), state_);
      if (ck.keep_every)
        save_checkpoint(c_.run_dir / "checkpoints" / ("epoch_" + std::to_string(epoch + 1) + ".pt"), parts(), state_);
      swap_ema();
      save_checkpoint(last, parts(), state_);
      files_.write_metrics(result_.history);
      files_.write_skipped_report();
    }
    std::map<std::string, double> logged;
    for (const auto& [k, v] : row)
      if (k != "epoch" && k != "step") logged[k] = v;
    recorder_.call([&](RunRecorder& r, const std::string& id) {
      r.log_metrics(id, epoch + 1, state_.step, logged);
      if (!last.empty()) {
        r.add_artifact(id, last.string(), "checkpoint");
        if (improved) r.add_artifact(id, best.string(), "checkpoint");
      }
    });
    std::ostringstream line;
    line << "epoch " << epoch + 1 << "/" << total_epochs_ << format_row(row, console_keys_) << "  "
         << format_duration(row["time_epoch_s"], DurationStyle::Clock) << (improved ? "  *" : "");
    log(line.str());
    if (c_.interrupt && c_.interrupt->load()) {
      result_.status = RunStatus::Interrupted;
      result_.message = "interrupted after epoch " + std::to_string(epoch + 1);
      stop_ = true;
    } else if (o_.early_stopping.enabled &&
               early_stop(!s_.val && o_.early_stopping.monitor.rfind("val_", 0) == 0 ? "train_loss"
                                                                                   : o_.early_stopping.monitor)) {
      log("early stopping: " + o_.early_stopping.monitor + " has not improved for " +
          std::to_string(o_.early_stopping.patience) + " epochs");
      break;
    }
  }
  result_.steps = state_.step;

  // Summary: best monitored value, the last epoch's values, and the test split.
  auto& summary = result_.summary;
  if (state_.best) {
    summary["best_" + monitor] = *state_.best;
    summary["best_epoch"] = static_cast<double>(state_.best_epoch);
  }
  if (!result_.history.empty())
    for (const auto& [k, v] : result_.history.back())
      if (k != "epoch" && k != "step" && k.rfind("time_", 0) != 0 && k.rfind("mem_", 0) != 0) summary["final_" + k] = v;
  if (result_.status == RunStatus::Finished && s_.test) {
    // Test what a user would deploy: the best checkpoint (already EMA weights when EMA evaluates),
    // unless the last epoch is the best or the run keeps no checkpoints.
    const bool from_best = o_.checkpoint.test_with == "best" && state_.best && state_.best_epoch != state_.epoch &&
                           !best.empty() && fs::exists(best);
    if (from_best) {
      load_model_weights(best, *s_.model, device_);
      log("testing the best checkpoint (epoch " + std::to_string(state_.best_epoch) + ")");
    } else {
      swap_ema();
    }
    summary["test_epoch"] = static_cast<double>(from_best ? state_.best_epoch : state_.epoch);
    auto values = evaluate(*s_.test, "test", total_epochs_);
    summary.insert(values.begin(), values.end());
    log("test" + format_row(values, console_keys_));
    if (o_.calibration.enabled && s_.val) calibrate_and_test(summary);
    if (!from_best) swap_ema();
  }
  summary["skipped_samples"] = static_cast<double>(result_.skipped_samples);
  summary["steps"] = static_cast<double>(result_.steps);
  for (const auto& row : result_.history)
    for (const auto& [k, v] : row)
      if (k.rfind("mem_", 0) == 0) {
        // Each epoch's value is already that epoch's peak: the run's is their maximum, under the
        // same name (mem_peak_rss_mb, mem_gpu_peak_allocated_mb, ...).
        double& peak = summary[k];
        peak = std::max(peak, v);
      }
  if (scaler_) summary["amp_skipped_steps"] = static_cast<double>(scaler_->skipped_steps());
  recorder_.call([&](RunRecorder& r, const std::string& id) { r.set_summary(id, summary); });
  tensorboard_finish(summary);
  if (!c_.run_dir.empty()) {
    files_.write_metrics(result_.history);
    files_.write_skipped_report();
    recorder_.call([&](RunRecorder& r, const std::string& id) {
      r.add_artifact(id, files_.skipped_report_path().string(), "report");
      r.add_artifact(id, files_.metrics_path().string(), "metrics");
      r.add_artifact(id, files_.log_path().string(), "log");
      if (tensorboard_) r.add_artifact(id, tensorboard_->path().string(), "tensorboard");
    });
  }
  if (result_.status == RunStatus::Diverged) log("diverged: " + result_.message);
  if (result_.status == RunStatus::Interrupted) log(result_.message + "; resume with --resume");
  return result_;
}

}  // namespace

void Loop::calibrate_and_test(std::map<std::string, double>& summary) {
  // Fit on validation outputs (with the same weights and TTA the test uses), then test again with
  // the calibration folded into the logits: z' = z / T - logit(t), so a metric thresholding the
  // probability at 0.5 thresholds the calibrated probability at t. Ranking metrics (AP) are unchanged.
  CollectedOutputs val;
  evaluate(*s_.val, "calval", total_epochs_, {}, &val);
  if (val.logits.empty()) return;
  torch::Tensor logits = torch::cat(val.logits), targets = torch::cat(val.targets);
  const bool binary_seg = s_.info.task == Task::Segmentation && logits.size(1) == 1;
  torch::Tensor valid;
  if (binary_seg) {
    valid = (targets >= 0) & (targets <= 1);  // ignored pixels carry the ignore value (255)
    logits = logits.reshape({-1});
    targets = targets.reshape({-1});
    valid = valid.reshape({-1});
  }
  double temperature = 1.0, threshold = 0.5;
  if (o_.calibration.temperature) {
    auto fit = fit_temperature(logits, targets, valid);
    temperature = fit.temperature;
    summary["calib_temperature"] = fit.temperature;
    summary["calib_ece_before"] = fit.ece_before;
    summary["calib_ece_after"] = fit.ece_after;
    summary["calib_nll_before"] = fit.nll_before;
    summary["calib_nll_after"] = fit.nll_after;
  }
  if (binary_seg && o_.calibration.threshold) {
    auto choice = best_f1_threshold(torch::sigmoid(logits.to(torch::kDouble) / temperature), targets, valid);
    threshold = std::clamp(choice.threshold, 1e-6, 1 - 1e-6);
    summary["calib_threshold"] = threshold;
    summary["calib_val_f1"] = choice.f1;
  }
  const double shift = std::log(threshold / (1 - threshold));
  auto adjust = [temperature, shift](const torch::Tensor& z) { return z / temperature - shift; };
  auto values = evaluate(*s_.test, "test_cal", total_epochs_, adjust);
  summary.insert(values.begin(), values.end());
  std::ostringstream line;
  line << "calibrated (T=" << temperature << ", threshold=" << threshold << ") test" << format_row(values, console_keys_);
  log(line.str());
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
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[static_cast<size_t>(rng.integer(0, static_cast<int64_t>(i) - 1))]);
  return order;
}

TrainResult train(TrainSetup& setup, const TrainContext& context) {
  Loop loop(setup, context);
  return loop.run();
}

}  // namespace xp::engine
