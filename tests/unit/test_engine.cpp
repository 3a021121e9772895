// The training loop with a model, loss and dataset defined here (no plugin libraries): schedules,
// accumulation, clipping, staged freezing, resume, determinism across workers, divergence.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "engine/lr_schedule.h"
#include "engine/memory_recorder.h"
#include "engine/param_groups.h"
#include "engine/runtime.h"
#include "engine/trainer.h"
#include "xp/errors.h"

namespace fs = std::filesystem;
using namespace xp::engine;

namespace {

// Two classes of 1x4x4 images: bright (class 1) or dark (class 0), with per-index noise.
class BlobSplit : public xp::Split {
 public:
  explicit BlobSplit(size_t n, int bad_every = 0) : n_(n), bad_every_(bad_every) {}
  size_t size() const override { return n_; }
  int64_t label(size_t i) const override { return static_cast<int64_t>(i % 2); }
  xp::Sample load(size_t i) const override {
    if (bad_every_ && i % bad_every_ == 3) throw xp::BadSample("blob_" + std::to_string(i), "corrupt");
    xp::Sample s;
    cv::Mat m(4, 4, CV_8UC1);
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x) m.at<uint8_t>(y, x) = static_cast<uint8_t>((i % 2 ? 150 : 60) + (i * 7 + y * 5 + x * 3) % 50);
    s.image = m;
    s.label = label(i);
    s.source = "blob_" + std::to_string(i);
    return s;
  }

 private:
  size_t n_;
  size_t bad_every_;
};

class TinyNet : public xp::Model {
 public:
  explicit TinyNet(bool dropout = false) : dropout_(dropout) {
    body = register_module("body", torch::nn::Linear(16, 8));
    head = register_module("head", torch::nn::Linear(8, 2));
  }
  xp::ModelOutput forward(const torch::Tensor& x) override {
    auto h = torch::relu(body->forward(x.flatten(1)));
    if (dropout_) h = torch::dropout(h, 0.3, is_training());
    return {head->forward(h), {}};
  }
  torch::nn::Linear body{nullptr}, head{nullptr};

 private:
  bool dropout_;
};

class CrossEntropy : public xp::Loss {
 public:
  torch::Tensor forward(const xp::ModelOutput& out, const xp::Batch& batch) override {
    return torch::nn::functional::cross_entropy(out.logits, batch.target);
  }
};

class Accuracy : public xp::Metric {
 public:
  void reset() override { correct_ = total_ = 0; }
  void update(const xp::ModelOutput& out, const xp::Batch& batch) override {
    correct_ += out.logits.argmax(1).eq(batch.target).sum().item<int64_t>();
    total_ += batch.size();
  }
  std::map<std::string, double> compute() const override {
    return {{"top1", total_ ? static_cast<double>(correct_) / static_cast<double>(total_) : 0.0}};
  }

 private:
  int64_t correct_ = 0, total_ = 0;
};

class Sequential : public xp::Sampler {
 public:
  std::vector<int64_t> indices(const xp::SamplerContext& c) const override {
    std::vector<int64_t> out(c.split->size());
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int64_t>(i);
    return out;
  }
};

TrainSetup make_setup(uint64_t seed = 1, bool dropout = false) {
  torch::manual_seed(1234);  // same initial weights in every setup
  TrainSetup s;
  s.model = std::make_shared<TinyNet>(dropout);
  s.loss = std::make_shared<CrossEntropy>();
  s.info.num_classes = 2;
  s.info.channels = 1;
  s.train = std::make_shared<BlobSplit>(64);
  s.val = std::make_shared<BlobSplit>(20);
  s.test = std::make_shared<BlobSplit>(10);
  s.metrics = {std::make_shared<Accuracy>()};
  s.options.epochs = 3;
  s.options.batch_size = 8;
  s.options.workers = 0;
  s.options.optimizer.name = "sgd";
  s.options.optimizer.lr = 0.05;
  s.seed = seed;
  return s;
}

std::vector<torch::Tensor> weights(xp::Model& m) {
  std::vector<torch::Tensor> out;
  for (auto& p : m.parameters()) out.push_back(p.detach().clone());
  return out;
}

bool same_weights(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}

// History without wall-clock columns.
std::vector<std::map<std::string, double>> comparable(std::vector<std::map<std::string, double>> h) {
  for (auto& row : h)
    for (auto it = row.begin(); it != row.end();) it = (it->first.rfind("time_", 0) == 0 || it->first.rfind("mem_", 0) == 0) ? row.erase(it) : std::next(it);
  return h;
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("xp_engine_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  static int& counter() {
    static int c = 0;
    return c;
  }
};

std::vector<fs::path> events_files(const fs::path& run_dir) {
  std::vector<fs::path> out;
  if (!fs::is_directory(run_dir / "tensorboard")) return out;
  for (const auto& e : fs::directory_iterator(run_dir / "tensorboard"))
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0 && fs::file_size(e.path()) > 0)
      out.push_back(e.path());
  return out;
}

TrainContext quiet_context(std::ostringstream& sink) {
  TrainContext c;
  c.out = &sink;
  c.heartbeat_seconds = 0;
  return c;
}

}  // namespace

TEST_CASE("schedule: step, multistep, warmup+cosine and onecycle values") {
  ScheduleOptions o;
  o.name = "step";
  o.step_epochs = 2;
  o.gamma = 0.5;
  LrSchedule step(o, 10, 100);
  CHECK(step.lr(0, 1.0) == doctest::Approx(1.0));
  CHECK(step.lr(19, 1.0) == doctest::Approx(1.0));
  CHECK(step.lr(20, 1.0) == doctest::Approx(0.5));
  CHECK(step.lr(45, 1.0) == doctest::Approx(0.25));

  o.name = "multistep";
  o.milestones = {1, 3};
  o.gamma = 0.1;
  LrSchedule multi(o, 10, 100);
  CHECK(multi.lr(9, 2.0) == doctest::Approx(2.0));
  CHECK(multi.lr(10, 2.0) == doctest::Approx(0.2));
  CHECK(multi.lr(35, 2.0) == doctest::Approx(0.02));

  o = ScheduleOptions{};
  o.name = "warmup_cosine";
  o.warmup_epochs = 1;
  o.min_lr = 0.1;
  LrSchedule cosine(o, 10, 110);
  CHECK(cosine.lr(0, 1.0) == doctest::Approx(0.1));  // (step + 1) / warmup
  CHECK(cosine.lr(4, 1.0) == doctest::Approx(0.5));
  CHECK(cosine.lr(10, 1.0) == doctest::Approx(1.0));
  CHECK(cosine.lr(60, 1.0) == doctest::Approx(0.55));  // halfway: (1 + 0.1) / 2
  CHECK(cosine.lr(110, 1.0) == doctest::Approx(0.1));

  o = ScheduleOptions{};
  o.name = "onecycle";
  o.max_lr = 1.0;
  o.pct_start = 0.25;
  o.div_factor = 10;
  o.final_div_factor = 100;
  LrSchedule one(o, 10, 101);
  CHECK(one.lr(0, 0.3) == doctest::Approx(0.1));      // max / div_factor
  CHECK(one.lr(24, 0.3) == doctest::Approx(1.0).epsilon(0.01));  // the peak at pct_start
  CHECK(one.lr(100, 0.3) == doctest::Approx(0.001));  // initial / final_div_factor

  o = ScheduleOptions{};
  LrSchedule constant(o, 10, 100);
  CHECK(constant.lr(77, 0.3) == doctest::Approx(0.3));
}

TEST_CASE("optimizer: parameter groups by glob with lr_scale, no decay for biases") {
  TinyNet net;
  NamedParameters params;
  for (auto& p : net.named_parameters()) params.emplace_back(p.key(), p.value());
  OptimizerOptions o;
  o.name = "adamw";
  o.lr = 0.01;
  o.weight_decay = 0.05;
  o.groups = {{{"body.*"}, 0.1, -1.0}};
  auto opt = build_optimizer(o, params);
  REQUIRE(opt.optimizer->param_groups().size() == 4);  // body/head x decay/no_decay
  set_learning_rate(opt, 0.02);
  for (size_t i = 0; i < opt.group_names.size(); ++i) {
    auto& g = opt.optimizer->param_groups()[i];
    const bool body = opt.group_names[i].rfind("group0", 0) == 0;
    CHECK(g.options().get_lr() == doctest::Approx(body ? 0.002 : 0.02));
    auto& adamw = static_cast<torch::optim::AdamWOptions&>(g.options());
    const bool no_decay = opt.group_names[i].find("no_decay") != std::string::npos;
    CHECK(adamw.weight_decay() == doctest::Approx(no_decay ? 0.0 : 0.05));
    for (auto& p : g.params()) CHECK((p.dim() == 1) == no_decay);
  }
  o.groups = {{{"backbone.*"}, 0.1, -1.0}};
  CHECK_THROWS_AS(build_optimizer(o, params), xp::ConfigError);
}

TEST_CASE("engine: trains, evaluates, writes run files and records") {
  TempDir dir;
  auto s = make_setup();
  s.options.checkpoint.monitor = "val_top1";
  s.options.checkpoint.mode = "max";
  MemoryRecorder recorder;
  std::ostringstream sink;
  auto c = quiet_context(sink);
  c.run_dir = dir.path;
  c.recorder = &recorder;
  c.run_id = recorder.begin({});
  auto r = train(s, c);
  CHECK(r.status == xp::RunStatus::Finished);
  REQUIRE(r.history.size() == 3);
  CHECK(r.history.back().at("val_top1") >= 0.75);
  CHECK(r.history.back().at("train_loss") < r.history.front().at("train_loss"));
  CHECK(r.summary.count("test_top1") == 1);
  CHECK(r.summary.count("best_val_top1") == 1);
  CHECK(r.steps == 3 * 8);
  CHECK(fs::exists(dir.path / "checkpoints" / "last.pt"));
  CHECK(fs::exists(dir.path / "checkpoints" / "best.pt"));
  CHECK(fs::exists(dir.path / "skipped_samples.txt"));
  std::ifstream csv(dir.path / "metrics.csv");
  std::string header;
  std::getline(csv, header);
  CHECK(header.rfind("epoch,step,", 0) == 0);
  CHECK(header.find("val_top1") != std::string::npos);
  auto run = recorder.run(c.run_id);
  CHECK(run.metrics.size() == 3);
  CHECK(run.metrics[0].second.count("lr") == 1);
  CHECK(run.summary.count("test_top1") == 1);
  CHECK(sink.str().find("epoch 3/3") != std::string::npos);
  // TensorBoard is on by default: one events file (its contents: test_tensorboard.cpp and
  // tests/cli/tensorboard_events.sh).
  CHECK(events_files(dir.path).size() == 1);
}

// TinyNet that remembers the dtype its logits came out in, in training and in evaluation.
class DtypeSpy : public TinyNet {
 public:
  xp::ModelOutput forward(const torch::Tensor& x) override {
    auto out = TinyNet::forward(x);
    (is_training() ? train_dtype : eval_dtype) = out.logits.scalar_type();
    return out;
  }
  c10::ScalarType train_dtype = torch::kDouble, eval_dtype = torch::kDouble;
};

TEST_CASE("engine: train.precision = bf16 trains the CPU model under bf16 autocast; fp16 there falls back to fp32") {
  for (const std::string precision : {"bf16", "fp16", "fp32"}) {
    CAPTURE(precision);
    auto s = make_setup();
    auto spy = std::make_shared<DtypeSpy>();
    s.model = spy;
    s.options.precision = precision;
    s.options.device = "cpu";
    MemoryRecorder recorder;
    std::ostringstream sink;
    auto c = quiet_context(sink);
    c.recorder = &recorder;
    c.run_id = recorder.begin({});
    auto r = train(s, c);
    REQUIRE(r.status == xp::RunStatus::Finished);
    const auto expected = precision == "bf16" ? torch::kBFloat16 : torch::kFloat;
    CHECK((spy->train_dtype == expected));
    CHECK((spy->eval_dtype == expected));
    // Master weights stay fp32 whatever the forward computes in, and the model still learns.
    for (const auto& p : spy->parameters()) CHECK((p.scalar_type() == torch::kFloat));
    CHECK(r.history.back().at("val_top1") >= 0.75);
    CHECK(recorder.run(c.run_id).tags.at("precision_effective") == (precision == "bf16" ? "bf16" : "fp32"));
    CHECK((sink.str().find("is not available on cpu") != std::string::npos) == (precision == "fp16"));
  }
}

TEST_CASE("engine: train.tensorboard.enabled = false writes no events") {
  TempDir dir;
  auto s = make_setup();
  s.options.epochs = 1;
  s.options.tensorboard.enabled = false;
  std::ostringstream sink;
  auto c = quiet_context(sink);
  c.run_dir = dir.path;
  REQUIRE(train(s, c).status == xp::RunStatus::Finished);
  CHECK_FALSE(fs::exists(dir.path / "tensorboard"));
}

TEST_CASE("engine: metrics are identical for 0, 1 and 3 loader workers") {
  std::vector<std::vector<std::map<std::string, double>>> histories;
  std::vector<std::vector<torch::Tensor>> finals;
  for (int64_t workers : {0, 1, 3}) {
    auto s = make_setup(5, /*dropout=*/true);
    s.options.workers = workers;
    s.train = std::make_shared<BlobSplit>(64, /*bad_every=*/9);
    std::ostringstream sink;
    auto r = train(s, quiet_context(sink));
    CHECK(r.skipped_samples > 0);
    histories.push_back(comparable(r.history));
    finals.push_back(weights(*s.model));
  }
  CHECK(histories[0] == histories[1]);
  CHECK(histories[0] == histories[2]);
  CHECK(same_weights(finals[0], finals[2]));
  // A different seed gives a different run.
  auto s = make_setup(6, true);
  std::ostringstream sink;
  CHECK_FALSE(comparable(train(s, quiet_context(sink)).history) == histories[0]);
}

// Sequential, and remembers which epochs it was asked for, in order.
class RecordingSampler : public xp::Sampler {
 public:
  std::vector<int64_t> indices(const xp::SamplerContext& c) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    asked_.push_back(c.epoch);
    return Sequential().indices(c);
  }
  std::vector<int64_t> asked() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return asked_;
  }

 private:
  mutable std::mutex mutex_;
  mutable std::vector<int64_t> asked_;
};

TEST_CASE("engine: with loader threads, the next epoch's loader starts before the epoch ends") {
  for (int64_t workers : {0, 2}) {
    CAPTURE(workers);
    auto s = make_setup(5);
    s.options.workers = workers;
    auto sampler = std::make_shared<RecordingSampler>();
    s.sampler = sampler;
    std::ostringstream sink;
    TrainContext c = quiet_context(sink);
    // At the last optimizer step of each epoch (64 samples, batch 8): which epochs were asked for.
    std::vector<std::vector<int64_t>> at_epoch_end;
    c.on_step = [&](int64_t, int64_t step) {
      if (step % 8 == 0) at_epoch_end.push_back(sampler->asked());
    };
    REQUIRE(train(s, c).status == xp::RunStatus::Finished);
    REQUIRE(at_epoch_end.size() == 3);
    // (The first 0 is plan_epochs sizing the epochs.)
    if (workers > 0) {
      // Epoch e+1's order is drawn (its loader started) while epoch e's last step runs; never an
      // epoch past the last.
      CHECK(at_epoch_end[0] == std::vector<int64_t>{0, 0, 1});
      CHECK(at_epoch_end[1] == std::vector<int64_t>{0, 0, 1, 2});
    } else {
      // Inline loading would only move the work onto the training thread: nothing is started early.
      CHECK(at_epoch_end[0] == std::vector<int64_t>{0, 0});
      CHECK(at_epoch_end[1] == std::vector<int64_t>{0, 0, 1});
    }
    CHECK(at_epoch_end[2] == std::vector<int64_t>{0, 0, 1, 2});
    CHECK(sampler->asked() == std::vector<int64_t>{0, 0, 1, 2});
  }
}

// (v / 255 - 0.4) / 0.2, as the `normalize` plugin computes it (that plugin is not loaded here).
class TestNormalize : public xp::Augmentation {
 public:
  void apply(xp::Sample& s, xp::Rng&) const override {
    cv::Mat f;
    s.image.convertTo(f, CV_32F, 1.0 / 255.0);
    s.image = (f - 0.4) / 0.2;
  }
};

TEST_CASE("engine: normalize_on_device = on trains as the loader-side conversion does") {
  auto run = [](const std::string& mode, bool with_normalize, std::string* log = nullptr) {
    auto s = make_setup(3);
    s.options.device = "cpu";  // also on a machine with CUDA, where auto would mean on
    s.options.normalize_on_device = mode;
    s.options.workers = 2;
    if (with_normalize) {
      s.augment = s.eval_augment = {std::make_shared<TestNormalize>()};
      s.augment_final_normalize = s.eval_final_normalize = PixelNormalization{{0.4}, {0.2}, 255.0};
    }
    std::ostringstream sink;
    auto r = train(s, quiet_context(sink));
    if (log) *log = sink.str();
    return std::make_pair(comparable(r.history), weights(*s.model));
  };
  for (bool with_normalize : {false, true}) {
    INFO("final normalize: " << with_normalize);
    std::string log_on, log_off;
    auto off = run("off", with_normalize, &log_off);
    auto on = run("on", with_normalize, &log_on);
    CHECK(log_on.find("images leave the loader as uint8") != std::string::npos);
    CHECK(log_off.find("images leave the loader as uint8") == std::string::npos);
    CHECK(((log_on.find("normalize included") != std::string::npos) == with_normalize));
    REQUIRE(on.first.size() == off.first.size());
    for (size_t e = 0; e < on.first.size(); ++e)
      for (const auto& [k, v] : off.first[e]) CHECK(on.first[e].at(k) == doctest::Approx(v).epsilon(1e-5));
    for (size_t i = 0; i < on.second.size(); ++i) CHECK(torch::allclose(on.second[i], off.second[i], 1e-5, 1e-6));
  }
  // auto means off when training on the CPU.
  std::string log_auto;
  run("auto", true, &log_auto);
  CHECK(log_auto.find("images leave the loader as uint8") == std::string::npos);
}

// Two convolutions (the second's weight is 4 x 4 x 3 x 3, where NCHW and NHWC strides differ).
class TinyConvNet : public xp::Model {
 public:
  TinyConvNet() {
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 4, 3).padding(1)));
    conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(4, 4, 3).padding(1)));
    head = register_module("head", torch::nn::Linear(4, 2));
  }
  xp::ModelOutput forward(const torch::Tensor& x) override {
    auto h = torch::relu(conv2->forward(torch::relu(conv1->forward(x))));
    return {head->forward(torch::adaptive_avg_pool2d(h, {1, 1}).flatten(1)), {}};
  }
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::Linear head{nullptr};
};

TEST_CASE("runtime: channels_last gives one-channel weights and inputs NHWC strides, so LibTorch computes in NHWC") {
  // contiguous(ChannelsLast) would return these unchanged (a size-1 channel dimension already counts
  // as channels_last), and LibTorch, which reads the layout from the strides, would stay in NCHW.
  Runtime rt;
  rt.channels_last = true;
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(1, 8, 3).padding(1).bias(false));
  const torch::Tensor before = conv->weight.detach().clone();
  rt.place(*conv);
  CHECK((conv->weight.suggest_memory_format() == torch::MemoryFormat::ChannelsLast));
  CHECK(torch::equal(conv->weight, before));
  xp::Batch batch;
  batch.input = torch::rand({4, 1, 6, 6});
  const torch::Tensor input = batch.input;
  batch = rt.to_device(std::move(batch), nullptr);
  CHECK((batch.input.suggest_memory_format() == torch::MemoryFormat::ChannelsLast));
  CHECK(torch::equal(batch.input, input));
  if (at::hasMKLDNN())
    CHECK((conv->forward(batch.input).suggest_memory_format() == torch::MemoryFormat::ChannelsLast));
  // Already NHWC: no copy.
  const torch::Tensor nhwc = torch::rand({2, 3, 4, 4}).contiguous(torch::MemoryFormat::ChannelsLast);
  CHECK(with_nhwc_strides(nhwc).data_ptr() == nhwc.data_ptr());
}

TEST_CASE("engine: train.channels_last trains as NCHW does; auto means NHWC on a oneDNN CPU") {
  auto run = [](const std::string& mode, std::string* log) {
    auto s = make_setup(3);
    torch::manual_seed(99);
    auto net = std::make_shared<TinyConvNet>();
    s.model = net;
    s.options.device = "cpu";
    s.options.channels_last = mode;
    std::ostringstream sink;
    auto r = train(s, quiet_context(sink));
    *log = sink.str();
    const bool nhwc = net->conv2->weight.is_contiguous(torch::MemoryFormat::ChannelsLast) &&
                      !net->conv2->weight.is_contiguous();
    return std::make_tuple(comparable(r.history), weights(*s.model), nhwc);
  };
  std::string log_off, log_on, log_auto;
  auto [off_history, off_weights, off_nhwc] = run("off", &log_off);
  auto [on_history, on_weights, on_nhwc] = run("on", &log_on);
  auto [auto_history, auto_weights, auto_nhwc] = run("auto", &log_auto);
  CHECK_FALSE(off_nhwc);
  CHECK(on_nhwc);
  CHECK(auto_nhwc == at::hasMKLDNN());
  CHECK(((log_auto.find("channels_last (NHWC)") != std::string::npos) == at::hasMKLDNN()));
  CHECK(log_on.find("channels_last (NHWC)") == std::string::npos);  // asked for: nothing to explain
  REQUIRE(on_history.size() == off_history.size());
  for (size_t e = 0; e < on_history.size(); ++e)
    for (const auto& [k, v] : off_history[e]) CHECK(on_history[e].at(k) == doctest::Approx(v).epsilon(1e-4));
  for (size_t i = 0; i < on_weights.size(); ++i) CHECK(torch::allclose(on_weights[i], off_weights[i], 1e-4, 1e-5));
}

TEST_CASE("engine: gradient accumulation equals the larger batch") {
  auto run = [](int64_t batch, int64_t accumulate) {
    auto s = make_setup();
    s.sampler = std::make_shared<Sequential>();
    s.options.batch_size = batch;
    s.options.accumulate = accumulate;
    s.options.optimizer.momentum = 0.0;
    s.options.epochs = 2;
    std::ostringstream sink;
    auto r = train(s, quiet_context(sink));
    CHECK(r.steps == 2 * 64 / (batch * accumulate));
    return weights(*s.model);
  };
  auto big = run(16, 1), accumulated = run(8, 2), small = run(8, 1);
  for (size_t i = 0; i < big.size(); ++i) CHECK(torch::allclose(big[i], accumulated[i], 1e-5, 1e-6));
  bool all_close = true;
  for (size_t i = 0; i < big.size(); ++i) all_close = all_close && torch::allclose(big[i], small[i], 1e-5, 1e-6);
  CHECK_FALSE(all_close);
}

TEST_CASE("engine: gradient clipping bounds the update norm") {
  auto s = make_setup();
  s.options.optimizer.momentum = 0.0;
  s.options.optimizer.lr = 1.0;
  s.options.grad_clip = 1e-3;
  s.options.epochs = 1;
  s.options.max_steps_per_epoch = 1;
  s.val = s.test = nullptr;
  auto before = weights(*s.model);
  std::ostringstream sink;
  train(s, quiet_context(sink));
  auto after = weights(*s.model);
  double sq = 0;
  for (size_t i = 0; i < before.size(); ++i) sq += (after[i] - before[i]).pow(2).sum().item<double>();
  CHECK(std::sqrt(sq) == doctest::Approx(1e-3).epsilon(0.01));  // lr 1 x clipped gradient
}

TEST_CASE("engine: a frozen stage does not change frozen parameters, the next stage does") {
  auto s = make_setup();
  s.options.optimizer.weight_decay = 0.1;  // decay and momentum must not move frozen weights
  s.options.optimizer.no_decay_norm_bias = false;
  s.options.stages = {{1, {"body.*"}, 0.0, 1.0}, {1, {}, 0.01, 1.0}};
  auto* net = static_cast<TinyNet*>(s.model.get());
  auto body0 = net->body->weight.detach().clone(), head0 = net->head->weight.detach().clone();
  std::vector<torch::Tensor> body_after_stage1;
  TrainContext c;
  std::ostringstream sink;
  c.out = &sink;
  c.heartbeat_seconds = 0;
  c.on_step = [&](int64_t epoch, int64_t step) {
    if (epoch == 0 && step == 8) body_after_stage1 = {net->body->weight.detach().clone(), net->body->bias.detach().clone()};
  };
  auto r = train(s, c);
  REQUIRE(r.status == xp::RunStatus::Finished);
  REQUIRE(body_after_stage1.size() == 2);
  CHECK(torch::equal(body_after_stage1[0], body0));
  CHECK_FALSE(torch::equal(net->head->weight, head0));
  CHECK_FALSE(torch::equal(net->body->weight, body0));  // stage 2 trains everything
  CHECK(net->body->weight.requires_grad());
  CHECK(sink.str().find("stage 1/2: 2 of 4 parameter tensors frozen") != std::string::npos);
}

TEST_CASE("engine: an interrupted and resumed run equals an uninterrupted one") {
  TempDir full_dir, split_dir;
  auto configure = [](TrainSetup& s) {
    s.options.optimizer.name = "adamw";
    s.options.optimizer.lr = 0.01;
    s.options.schedule.name = "warmup_cosine";
    s.options.schedule.warmup_epochs = 0.5;
    s.options.workers = 2;
  };
  auto a = make_setup(3, true);
  configure(a);
  std::ostringstream sink;
  auto ca = quiet_context(sink);
  ca.run_dir = full_dir.path;
  auto full = train(a, ca);
  REQUIRE(full.status == xp::RunStatus::Finished);

  // Interrupt in the middle of epoch 2, then resume with fresh objects as a new process would.
  std::atomic<bool> interrupt{false};
  auto b = make_setup(3, true);
  configure(b);
  auto cb = quiet_context(sink);
  cb.run_dir = split_dir.path;
  cb.interrupt = &interrupt;
  cb.on_step = [&](int64_t, int64_t step) {
    if (step == 11) interrupt = true;
  };
  auto first = train(b, cb);
  REQUIRE(first.status == xp::RunStatus::Interrupted);
  CHECK(first.history.size() == 1);

  auto c = make_setup(3, true);
  configure(c);
  torch::manual_seed(999);  // the resumed run must not depend on the process's generator state
  auto cc = quiet_context(sink);
  cc.run_dir = split_dir.path;
  cc.resume = true;
  auto resumed = train(c, cc);
  REQUIRE(resumed.status == xp::RunStatus::Finished);
  CHECK(comparable(resumed.history) == comparable(full.history));
  CHECK(resumed.summary.at("test_top1") == full.summary.at("test_top1"));
  CHECK(same_weights(weights(*c.model), weights(*a.model)));
  CHECK(events_files(split_dir.path).size() == 2);  // the resumed process appends its own file
}

TEST_CASE("engine: a NaN loss stops the run as diverged") {
  class NanAfter : public xp::Loss {
   public:
    torch::Tensor forward(const xp::ModelOutput& out, const xp::Batch& batch) override {
      auto l = torch::nn::functional::cross_entropy(out.logits, batch.target);
      return ++calls_ > 3 ? l * std::numeric_limits<float>::quiet_NaN() : l;
    }
    int calls_ = 0;
  };
  auto s = make_setup();
  s.loss = std::make_shared<NanAfter>();
  std::ostringstream sink;
  auto r = train(s, quiet_context(sink));
  CHECK(r.status == xp::RunStatus::Diverged);
  CHECK(r.message.find("loss is nan at epoch 1, batch 4") != std::string::npos);
  CHECK(r.history.empty());
}

TEST_CASE("engine: bad configuration is a ConfigError") {
  auto s = make_setup();
  s.options.stages = {{1, {"backbone.*"}, 0.0, 1.0}};
  std::ostringstream sink;
  CHECK_THROWS_WITH_AS(train(s, quiet_context(sink)), doctest::Contains("matches no parameter"), xp::ConfigError);
  auto t = make_setup();
  t.options.checkpoint.monitor = "val_top5";
  CHECK_THROWS_WITH_AS(train(t, quiet_context(sink)), doctest::Contains("val_top1"), xp::ConfigError);
  auto u = make_setup();
  u.options.batch_size = 100;
  CHECK_THROWS_AS(train(u, quiet_context(sink)), xp::ConfigError);
}
