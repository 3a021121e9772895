// The xp side of bench/train: trains a model plugin (simple_cnn or resnet) through the xp engine
// (loader threads, collation, optimizer groups, schedule, loss check every step) on in-memory
// uint8 images for a fixed number of steps, and prints `xp <model> <steps/s>`. CHANNELS_LAST is
// train.channels_last (auto, on, off; default auto).
//
// Built and run by bench/train/run.sh against a build tree of xp.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include <torch/torch.h>

#include "engine/trainer.h"
#include "plugin_loader.h"
#include "xp/plugin.h"

namespace {

// uint8 images and labels held in memory, like the Python side's tensors.
class MemorySplit : public xp::Split {
 public:
  MemorySplit(int64_t n, int rows, int cols, int channels) {
    xp::Rng rng(0);
    for (int64_t i = 0; i < n; ++i) {
      cv::Mat m(rows, cols, CV_8UC(channels));
      for (size_t k = 0; k < m.total() * m.elemSize(); ++k) m.data[k] = static_cast<uint8_t>(rng.integer(0, 255));
      images_.push_back(m);
      labels_.push_back(rng.integer(0, 9));
    }
  }
  size_t size() const override { return images_.size(); }
  int64_t label(size_t i) const override { return labels_[i]; }
  xp::Sample load(size_t i) const override {
    xp::Sample s;
    s.image = images_[i];  // shared, read-only
    s.label = labels_[i];
    return s;
  }

 private:
  std::vector<cv::Mat> images_;
  std::vector<int64_t> labels_;
};

class CrossEntropy : public xp::Loss {
 public:
  torch::Tensor forward(const xp::ModelOutput& out, const xp::Batch& batch) override {
    return torch::nn::functional::cross_entropy(out.logits, batch.target);
  }
};

// The plugin's schema defaults with a few overrides: what the resolver would hand the plugin.
xp::Params plugin_params(const std::string& name, const xp::Value::Table& overrides) {
  const auto& entry = xp::PluginRegistry::instance().get("model", name);
  xp::Value::Table values;
  for (const auto& p : entry.schema.params()) values[p.name] = p.default_value;
  for (const auto& [k, v] : overrides) values[k] = v;
  return xp::Params(name, values);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::cerr << "usage: bench_xp MODEL STEPS WARMUP BATCH THREADS [PLUGIN_DIR [CHANNELS_LAST [PRECISION]]]\n";
    return 2;
  }
  const std::string model = argv[1];
  const int64_t steps = std::atoll(argv[2]), warmup = std::atoll(argv[3]), batch = std::atoll(argv[4]),
                threads = std::atoll(argv[5]);
  xp::PluginLoader loader;
  std::vector<std::string> problems;
  std::vector<std::filesystem::path> extra;
  if (argc > 6) extra.push_back(argv[6]);
  const std::string channels_last = argc > 7 ? argv[7] : "auto";  // train.channels_last
  const std::string precision = argc > 8 ? argv[8] : "fp32";      // train.precision
  loader.load_all(extra, problems);

  auto run = [&](int64_t n_steps) {
    torch::manual_seed(0);
    xp::engine::TrainSetup s;
    const bool cnn = model == "simple_cnn";
    s.model = xp::create<xp::Model>(cnn ? plugin_params("simple_cnn", {{"in_channels", 1}, {"num_classes", 10}})
                                        : plugin_params("resnet", {{"depth", 18}, {"width", 0.25}, {"small_input", true},
                                                                   {"in_channels", 3}, {"num_classes", 10}}));
    s.loss = std::make_shared<CrossEntropy>();
    s.info.num_classes = 10;
    // Enough samples for every step of the run in one epoch (a smaller split would end the epoch,
    // and the run, before n_steps).
    const int64_t n = batch * n_steps;
    s.train = cnn ? std::make_shared<MemorySplit>(n, 28, 28, 1) : std::make_shared<MemorySplit>(n, 32, 32, 3);
    s.options.epochs = 1;
    s.options.batch_size = batch;
    s.options.max_steps_per_epoch = n_steps;
    s.options.threads = threads;
    s.options.channels_last = channels_last;
    s.options.precision = precision;
    s.options.workers = 1;  // conversion happens off the training thread, as in xp run
    s.options.optimizer.name = "adamw";
    s.options.optimizer.lr = 1e-3;
    s.options.optimizer.weight_decay = 1e-4;
    std::ostringstream sink;
    xp::engine::TrainContext c;
    c.out = &sink;
    c.heartbeat_seconds = 0;
    auto t0 = std::chrono::steady_clock::now();
    xp::engine::train(s, c);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  run(warmup);
  // Timing a long and a short run and subtracting removes setup (model construction, loader
  // start, data generation) from the per-step rate, as the Python side times only the steps.
  const double long_run = run(steps + warmup), short_run = run(warmup);
  std::printf("xp %s %.3f\n", model.c_str(), static_cast<double>(steps) / (long_run - short_run));
  return 0;
}
