// Fuzz target: loading a corrupt checkpoint (core/src/engine/checkpoint): the bytes as a resumed
// data-parallel rank gets them (load_checkpoint_bytes, with model, loss, optimizer, EMA and loss
// scaler) and as a file (load_model_weights, `xp test` on a best checkpoint). Each either loads or
// ends in a std::runtime_error that names the file; never another exception, never a crash.
//
// The seeds (tests/fuzz/checkpoint/) come from this file: XP_FUZZ_WRITE_SEEDS=<folder>
// fuzz_replay_checkpoint <any file> writes a real checkpoint of the tiny model below (27 KB) and
// broken ones.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "engine/checkpoint.h"

namespace {

namespace fs = std::filesystem;

// Parameters and buffers of the kinds real models have (BatchNorm: running stats and a counter).
struct TinyNet : torch::nn::Module {
  explicit TinyNet(int64_t in = 3) {
    fc = register_module("fc", torch::nn::Linear(in, 2));
    bn = register_module("bn", torch::nn::BatchNorm1d(2));
  }
  torch::Tensor forward(const torch::Tensor& x) { return bn->forward(fc->forward(x)); }
  torch::nn::Linear fc{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};
};

struct TinyLoss : torch::nn::Module {
  TinyLoss() { register_buffer("class_weight", torch::ones({2})); }
};

struct Parts {
  TinyNet model;
  TinyLoss loss;
  torch::optim::SGD optimizer;
  xp::WeightEma ema;
  xp::engine::DynamicLossScaler scaler;
  explicit Parts(int64_t in = 3)
      : model(in), optimizer(model.parameters(), torch::optim::SGDOptions(0.1).momentum(0.9)), ema(model, 0.9) {}
  xp::engine::CheckpointParts parts() { return {&model, &loss, &optimizer, &ema, &scaler}; }
  void step() {  // optimizer state (momentum buffers) and an EMA update, as after a real step
    optimizer.zero_grad();
    model.forward(torch::randn({4, model.fc->options.in_features()})).sum().backward();
    optimizer.step();
    ema.update(model);
  }
};

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_seeds(const fs::path& out) {
  fs::create_directories(out);
  torch::manual_seed(0);
  Parts good;
  good.step();
  xp::engine::LoopState state;
  state.epoch = 1;
  state.step = 3;
  state.best = 0.5;
  state.best_epoch = 1;
  xp::engine::save_checkpoint(out / "good.pt", good.parts(), state);
  const std::string bytes = read_file(out / "good.pt");
  std::ofstream(out / "truncated.pt", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  std::ofstream(out / "not_a_zip.pt", std::ios::binary) << "not a checkpoint\n";
  // Another model's checkpoint and impossible loop states: tests/unit/test_reliability.cpp (the
  // corpus stays small; the fuzzer derives such files from good.pt).
}

void expect_named(const std::runtime_error& e, const fs::path& file) {
  if (std::string(e.what()).find(file.string()) == std::string::npos) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fs::path dir = [] {
    if (const char* seeds = std::getenv("XP_FUZZ_WRITE_SEEDS")) write_seeds(seeds);
    torch::set_num_threads(1);
    auto d = fs::temp_directory_path() / ("xp_fuzz_checkpoint_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const fs::path file = dir / "fuzz.pt";
  {
    Parts fresh;  // a load may have changed the tensors it reached before failing
    try {
      xp::engine::load_checkpoint_bytes(bytes, file, fresh.parts(), torch::kCPU);
    } catch (const std::runtime_error& e) {
      expect_named(e, file);
    }
  }
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  TinyNet model;
  try {
    xp::engine::load_model_weights(file, model, torch::kCPU);
  } catch (const std::runtime_error& e) {
    expect_named(e, file);
  }
  return 0;
}
