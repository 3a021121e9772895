// The xp side of bench/gpu model-step throughput: xp's `resnet` model plugin trained on synthetic
// data that already sits on the GPU (no loader), with xp's autocast and (fp16) loss scaler, SGD
// with momentum (the engine's multi-tensor optimizer), optional channels_last.
// Prints `xp <model> <precision> <images/s> params <n>`.
//
//   bench_gpu_model_step DEPTH BATCH PRECISION STEPS WARMUP CHANNELS_LAST PLUGIN_DIR [SIZE]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <ATen/Context.h>
#include <torch/cuda.h>

#include "engine/mixed_precision.h"
#include "engine/param_groups.h"
#include "plugin_loader.h"
#include "xp/plugin.h"

namespace {

xp::Params model_params(const xp::Value::Table& overrides) {
  const auto& entry = xp::PluginRegistry::instance().get("model", "resnet");
  xp::Value::Table values;
  for (const auto& p : entry.schema.params()) values[p.name] = p.default_value;
  for (const auto& [k, v] : overrides) values[k] = v;
  return xp::Params("resnet", values);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 8) {
    std::cerr << "usage: bench_gpu_model_step DEPTH BATCH PRECISION STEPS WARMUP CHANNELS_LAST PLUGIN_DIR [SIZE]\n";
    return 2;
  }
  const int64_t depth = std::atoll(argv[1]), batch = std::atoll(argv[2]);
  const std::string precision = argv[3];
  const int64_t steps = std::atoll(argv[4]), warmup = std::atoll(argv[5]);
  const bool channels_last = std::atoi(argv[6]) != 0;
  const int64_t size = argc > 8 ? std::atoll(argv[8]) : 224;
  if (!torch::cuda::is_available()) {
    std::cerr << "bench_gpu_model_step: no CUDA device\n";
    return 2;
  }
  xp::PluginLoader loader;
  std::vector<std::string> problems;
  loader.load_all({argv[7]}, problems);

  torch::manual_seed(0);
  at::globalContext().setBenchmarkCuDNN(true);
  torch::Device cuda(torch::kCUDA);
  auto model = xp::create<xp::Model>(model_params({{"depth", depth}, {"num_classes", int64_t{1000}}}));
  model->to(cuda);
  const auto memory_format = channels_last ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters())
      if (p.dim() == 4) p.set_data(p.data().contiguous(memory_format));
  }
  int64_t n_params = 0;
  for (const auto& p : model->parameters()) n_params += p.numel();
  model->train();
  // The engine's optimizer (multi-tensor SGD) with Python's settings: decay on every parameter.
  xp::engine::NamedParameters named;
  for (const auto& p : model->named_parameters()) named.emplace_back(p.key(), p.value());
  xp::engine::OptimizerOptions optimizer_options;
  optimizer_options.name = "sgd";
  optimizer_options.lr = 0.01;
  optimizer_options.momentum = 0.9;
  optimizer_options.weight_decay = 1e-4;
  optimizer_options.no_decay_norm_bias = false;
  auto opt = xp::engine::build_optimizer(optimizer_options, named).optimizer;
  const auto dtype = xp::engine::precision_dtype(precision);
  std::unique_ptr<xp::engine::DynamicLossScaler> scaler;
  if (dtype == torch::kHalf) scaler = std::make_unique<xp::engine::DynamicLossScaler>();
  auto x = torch::randn({batch, 3, size, size}, cuda).contiguous(memory_format);
  auto y = torch::randint(0, 1000, {batch}, torch::TensorOptions(cuda).dtype(torch::kLong));

  auto step = [&] {
    xp::engine::clear_gradients(named);  // set_to_none, as Python's zero_grad()
    torch::Tensor loss;
    {
      xp::engine::AutocastScope autocast(dtype, torch::kCUDA);
      loss = torch::nn::functional::cross_entropy(model->forward(x).logits, y);
    }
    if (scaler) {
      scaler->scale(loss).backward();
      const bool finite = scaler->unscale(model->parameters());
      scaler->update(finite);
      if (finite) opt->step();
    } else {
      loss.backward();
      opt->step();
    }
  };
  for (int64_t i = 0; i < warmup; ++i) step();
  torch::cuda::synchronize();
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < steps; ++i) step();
  torch::cuda::synchronize();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("xp resnet%ld %s %.1f params %ld\n", static_cast<long>(depth), precision.c_str(),
              static_cast<double>(steps * batch) / s, static_cast<long>(n_params));
  return 0;
}
