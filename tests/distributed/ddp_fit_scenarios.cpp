// Scenarios of the multi-process data-parallel tests that run the real trainer (engine::train) on
// a model, loss and dataset defined here, one rank per process (see ddp_worker.cpp for the others).
//
//   ddp_worker fit full DIR        2 ranks train uninterrupted; rank 0 saves the final weights and history
//   ddp_worker fit interrupt DIR   the same, interrupted by rank 0 alone in the middle of epoch 2
//                                  (XP_DDP_TEST_DEVICE=cuda: on the GPU, over NCCL)
//   ddp_worker fit resume DIR      resumes DIR/split's run: weights, history and test metric must
//                                  equal the uninterrupted run's
//   ddp_worker fit resume1 DIR     resumes a copy of the interrupted run as one process (re-sharded)
#include <torch/torch.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "distributed/world.h"
#include "engine/trainer.h"

namespace fs = std::filesystem;
using namespace xp::engine;

namespace {

// Four classes of 1x4x4 images with per-index noise: enough structure to learn, cheap to load.
class NoisySplit : public xp::Split {
 public:
  explicit NoisySplit(size_t n, size_t offset) : n_(n), offset_(offset) {}
  size_t size() const override { return n_; }
  int64_t label(size_t i) const override { return static_cast<int64_t>((i + offset_) % 4); }
  xp::Sample load(size_t i) const override {
    const size_t k = i + offset_;
    xp::Sample s;
    cv::Mat m(4, 4, CV_8UC1);
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x)
        m.at<uint8_t>(y, x) = static_cast<uint8_t>(40 * (k % 4) + (k * 37 + static_cast<size_t>(y * 11 + x * 5)) % 70);
    s.image = m;
    s.label = label(i);
    s.source = "noisy_" + std::to_string(k);
    return s;
  }

 private:
  size_t n_, offset_;
};

class DropoutNet : public xp::Model {
 public:
  explicit DropoutNet(double dropout) : dropout_(dropout) {
    body = register_module("body", torch::nn::Linear(16, 12));
    bn = register_module("bn", torch::nn::BatchNorm1d(12));
    head = register_module("head", torch::nn::Linear(12, 4));
  }
  xp::ModelOutput forward(const torch::Tensor& x) override {
    // Dropout draws from torch's generator: a resumed rank must continue rank 0's saved state.
    // Batch norm is synchronised across the ranks (train.distributed.sync_batchnorm).
    auto h = torch::dropout(torch::tanh(bn->forward(body->forward(x.flatten(1) / 255.0))), dropout_, is_training());
    return {head->forward(h), {}};
  }
  torch::nn::Linear body{nullptr}, head{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};

 private:
  double dropout_;
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
  bool reduce_state(xp::MetricStateReducer& r) override {
    int64_t state[2] = {correct_, total_};
    r.sum(state, 2);
    correct_ = state[0], total_ = state[1];
    return true;
  }

 private:
  int64_t correct_ = 0, total_ = 0;
};

// XP_DDP_TEST_DEVICE=cuda: the same on the GPU over NCCL (tests/gpu: one launched rank). Without
// dropout there: the checkpoint holds the CPU generator's state, not CUDA's.
// Keeps the tags the trainer records (world size, backend, hosts); everything else is dropped.
class TagRecorder : public xp::RunRecorder {
 public:
  std::string begin(const xp::RunInfo&) override { return "r1"; }
  void resume(const std::string&) override {}
  void log_metrics(const std::string&, int64_t, int64_t, const std::map<std::string, double>&) override {}
  void set_summary(const std::string&, const std::map<std::string, double>&) override {}
  void add_artifact(const std::string&, const std::string&, const std::string&) override {}
  void set_tag(const std::string&, const std::string& key, const std::string& value) override { tags[key] = value; }
  void heartbeat(const std::string&) override {}
  void finish(const std::string&, xp::RunStatus, const std::string&) override {}
  std::map<std::string, std::string> tags;
};

TrainSetup make_setup() {
  const char* device = std::getenv("XP_DDP_TEST_DEVICE");
  const bool cuda = device && std::string(device) == "cuda";
  torch::manual_seed(77);
  TrainSetup s;
  s.model = std::make_shared<DropoutNet>(cuda ? 0.0 : 0.2);
  if (cuda) s.options.device = "cuda";
  s.loss = std::make_shared<CrossEntropy>();
  s.info.num_classes = 4;
  s.info.channels = 1;
  s.train = std::make_shared<NoisySplit>(100, 0);  // 50 per rank: 6 batches of 8 (drop_last)
  s.val = std::make_shared<NoisySplit>(30, 1000);
  s.test = std::make_shared<NoisySplit>(21, 2000);
  s.metrics = {std::make_shared<Accuracy>()};
  s.options.epochs = 3;
  s.options.batch_size = 8;
  s.options.accumulate = 2;
  s.options.workers = 0;
  s.options.optimizer.name = "adamw";
  s.options.optimizer.lr = 0.02;
  s.options.schedule.name = "warmup_cosine";
  s.options.schedule.warmup_epochs = 0.5;
  s.options.distributed.timeout_s = 30;
  s.options.distributed.sync_batchnorm = true;
  s.options.checkpoint.monitor = "val_top1";
  s.options.checkpoint.mode = "max";
  s.seed = 5;
  return s;
}

std::string history_text(const std::vector<std::map<std::string, double>>& history) {
  std::ostringstream os;
  os.precision(17);
  for (const auto& row : history) {
    for (const auto& [k, v] : row)
      if (k.rfind("time_", 0) != 0 && k.rfind("mem_", 0) != 0) os << k << "=" << v << " ";
    os << "\n";
  }
  return os.str();
}

std::string test_text(const TrainResult& r) {
  std::ostringstream os;
  os.precision(17);
  os << "test_top1=" << r.summary.at("test_top1") << " steps=" << r.steps << "\n";
  return os.str();
}

std::map<std::string, double> parse_row(const std::string& line) {
  std::map<std::string, double> row;
  std::istringstream in(line);
  std::string field;
  while (in >> field) {
    const auto eq = field.find('=');
    row[field.substr(0, eq)] = std::stod(field.substr(eq + 1));
  }
  return row;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

int scenario_fit(const std::string& mode, const std::string& dir) {
  const auto world = xp::distributed::discover_world();
  const bool rank0 = world.rank == 0;
  TrainSetup s = make_setup();
  TrainContext c;
  std::ostringstream sink;
  c.out = &sink;
  c.heartbeat_seconds = 0;
  std::atomic<bool> interrupt{false};
  c.interrupt = &interrupt;
  const fs::path base(dir);
  if (mode == "full") c.run_dir = base / "full";
  if (mode == "interrupt" || mode == "resume") c.run_dir = base / "split";
  if (mode == "resume1") c.run_dir = base / "split1";
  if (!rank0) c.run_dir.clear();  // rank 0 alone has a run folder
  c.resume = mode == "resume" || mode == "resume1";
  // Rank 0 alone sees the interrupt, after optimizer step 4: with 2 ranks an epoch is 6 batches per
  // rank (drop_last), 3 steps with accumulate = 2, so that is the middle of epoch 2 (with one
  // rank, of epoch 1). Every rank must stop there too.
  if (mode == "interrupt" && rank0)
    c.on_step = [&](int64_t, int64_t step) {
      if (step == 4) interrupt = true;
    };
  TagRecorder recorder;
  if (rank0) c.recorder = &recorder;  // as xp run: rank 0 alone records the run
  c.run_id = "r1";
  const TrainResult r = train(s, c);
  std::ofstream log(base / (mode + "_rank" + std::to_string(world.rank) + ".log"));
  log << sink.str() << "status " << xp::run_status_name(r.status) << " steps " << r.steps << "\n";
  for (const auto& [k, v] : recorder.tags) log << "tag " << k << "=" << v << "\n";

  std::vector<torch::Tensor> weights;
  for (const auto& p : s.model->parameters()) weights.push_back(p.detach().clone());
  if (mode == "full") {
    if (r.status != xp::RunStatus::Finished) return 1;
    if (rank0) {
      torch::save(weights, (base / "full_weights.pt").string());
      std::ofstream(base / "full_history.txt") << history_text(r.history) << test_text(r);
    }
    return 0;
  }
  if (mode == "interrupt") {
    log << "epochs_done " << r.epochs_done << "\n";
    return r.status == xp::RunStatus::Interrupted && r.steps == 4 && r.epochs_done == (world.world_size == 2 ? 1 : 0)
               ? 0 : 1;
  }
  if (r.status != xp::RunStatus::Finished) return 1;
  if (mode == "resume1") return 0;  // a different global batch: finishing (re-sharded) is what counts

  // mode == "resume": the uninterrupted run's weights (bit for bit: every operation is repeated in
  // the same order) and history (the interrupted epoch's training loss is summed in another order).
  std::vector<torch::Tensor> full;
  torch::load(full, (base / "full_weights.pt").string());
  int bad = 0;
  if (full.size() != weights.size()) ++bad;
  for (size_t i = 0; i < std::min(full.size(), weights.size()); ++i)
    if (!torch::equal(full[i], weights[i])) {
      ++bad;
      log << "weights differ: tensor " << i << " max diff " << (full[i] - weights[i]).abs().max().item<double>() << "\n";
    }
  std::istringstream expected(slurp(base / "full_history.txt"));
  std::istringstream got(history_text(r.history) + test_text(r));
  std::string a, b;
  while (std::getline(expected, a)) {
    if (!std::getline(got, b)) {
      ++bad;
      log << "missing row: " << a << "\n";
      break;
    }
    const auto ra = parse_row(a), rb = parse_row(b);
    for (const auto& [k, v] : ra) {
      const auto it = rb.find(k);
      if (it == rb.end() || std::abs(it->second - v) > 1e-6 * std::max(1.0, std::abs(v))) {
        ++bad;
        log << "row differs at " << k << ": " << v << " vs " << (it == rb.end() ? NAN : it->second) << "\n";
      }
    }
  }
  log << "mismatches " << bad << "\n";
  std::cout << "rank " << world.rank << " resume mismatches " << bad << "\n";
  return bad == 0 ? 0 : 1;
}
