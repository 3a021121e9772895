// bench/ddp: data-parallel training throughput on the CPU. simple_cnn (the Fashion-MNIST model,
// 1x28x28 inputs, 10 classes) trained with AdamW on in-memory tensors by a hand-written loop with
// the DistributedContext calls the fit loop makes, either
//   single THREADS STEPS BATCH PLUGIN_DIR   one process, torch using THREADS threads, batch BATCH
//   launch NPROC STEPS BATCH PLUGIN_DIR     NPROC Gloo ranks x 1 thread, BATCH/NPROC per rank
// Prints steps/s (global steps of BATCH samples), the epoch time for Fashion-MNIST's 60000 training
// images, and where a step's time goes. Built and run by bench/ddp/run.sh.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "distributed/distributed_context.h"
#include "distributed/launcher.h"
#include "plugin_loader.h"
#include "xp/model.h"
#include "xp/plugin.h"

namespace xd = xp::distributed;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::shared_ptr<xp::Model> make_model(const std::string& plugin_dir) {
  xp::PluginLoader loader;
  std::vector<std::string> problems;
  loader.load_all({std::filesystem::path(plugin_dir)}, problems);
  const auto& entry = xp::PluginRegistry::instance().get("model", "simple_cnn");
  xp::Value::Table values;
  for (const auto& p : entry.schema.params()) values[p.name] = p.default_value;
  values["in_channels"] = xp::Value(int64_t{1});
  values["num_classes"] = xp::Value(int64_t{10});
  torch::manual_seed(0);
  return xp::create<xp::Model>(xp::Params("simple_cnn", values));
}

int train(int64_t threads, int64_t steps, int64_t batch, const std::string& plugin_dir, bool distributed) {
  torch::set_num_threads(static_cast<int>(threads));
  auto model = make_model(plugin_dir);
  auto dist = distributed ? xd::DistributedContext::from_environment({}, torch::kCPU)
                          : xd::DistributedContext::create(xd::World{}, {}, torch::kCPU);
  dist->prepare_model(*model);
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-3).weight_decay(1e-4));
  const int64_t warmup = 5;
  torch::manual_seed(1 + dist->rank());
  auto x = torch::rand({batch * 4, 1, 28, 28});
  auto y = torch::randint(0, 10, {batch * 4});
  double t_compute = 0, t_wait = 0, t_step = 0, t_buffers = 0;
  Clock::time_point start;
  for (int64_t i = 0; i < warmup + steps; ++i) {
    if (i == warmup) {
      dist->barrier();
      start = Clock::now();
      t_compute = t_wait = t_step = t_buffers = 0;
    }
    auto xb = x.narrow(0, (i % 4) * batch, batch), yb = y.narrow(0, (i % 4) * batch, batch);
    auto t0 = Clock::now();
    dist->before_forward();
    t_buffers += since(t0);
    t0 = Clock::now();
    auto loss = torch::nn::functional::cross_entropy(model->forward(xb).logits, yb);
    dist->before_backward(true);
    loss.backward();
    t_compute += since(t0);
    t0 = Clock::now();
    dist->finish_gradients();
    t_wait += since(t0);
    t0 = Clock::now();
    opt.step();
    opt.zero_grad();
    t_step += since(t0);
  }
  const double total = since(start);
  // The all-reduce alone, not overlapped: one flat tensor of every gradient.
  double t_allreduce = 0;
  int64_t grad_numel = 0;
  for (const auto& p : model->parameters()) grad_numel += p.numel();
  if (dist->active()) {
    auto flat = torch::zeros({grad_numel});
    dist->communicator()->all_reduce(flat);
    auto t0 = Clock::now();
    for (int k = 0; k < 50; ++k) dist->communicator()->all_reduce(flat);
    t_allreduce = since(t0) / 50;
  }
  if (dist->is_rank0()) {
    const double rate = static_cast<double>(steps) / total;
    const int64_t global_batch = batch * dist->world_size();
    std::printf("%s %lld ranks x %lld threads, batch %lld per rank: %.2f steps/s, %.1f s per 60000-image epoch\n",
                distributed ? "ddp" : "single", static_cast<long long>(dist->world_size()), static_cast<long long>(threads),
                static_cast<long long>(batch), rate, 60000.0 / (rate * static_cast<double>(global_batch)));
    std::printf("  per step (ms): forward+backward %.2f, waiting for gradient all-reduce %.2f, buffer broadcast %.2f, "
                "optimizer %.2f; %lld parameters%s\n",
                1e3 * t_compute / steps, 1e3 * t_wait / steps, 1e3 * t_buffers / steps, 1e3 * t_step / steps,
                static_cast<long long>(grad_numel),
                dist->active() ? (", one all-reduce of all gradients alone " + std::to_string(1e3 * t_allreduce).substr(0, 5) + " ms").c_str() : "");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  try {
    if (a.size() == 5 && a[0] == "single") return train(std::stoll(a[1]), std::stoll(a[2]), std::stoll(a[3]), a[4], false);
    if (a.size() == 5 && a[0] == "rank") return train(1, std::stoll(a[2]), std::stoll(a[3]), a[4], true);
    if (a.size() == 5 && a[0] == "launch") {
      xd::LaunchOptions o;
      o.nproc = std::stoi(a[1]);
      o.program = xd::current_executable();
      o.args = {"rank", a[1], a[2], std::to_string(std::stoll(a[3]) / o.nproc), a[4]};
      auto r = xd::launch_local_ranks(o);
      if (r.first_failed_rank >= 0) std::cerr << "error: " << r.message << "\n";
      return r.first_failed_rank >= 0 ? 1 : 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_ddp: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "usage: bench_ddp single THREADS STEPS BATCH PLUGIN_DIR | launch NPROC STEPS BATCH PLUGIN_DIR\n";
  return 2;
}
