// One rank of the multi-process data-parallel tests (tests/unit/test_distributed.cpp starts two of
// them through the launcher). Every scenario checks its own result and exits 0 when it holds:
//
//   ddp_worker train sgd|adamw ACCUMULATE OUT_DIR   2 ranks x batch B/2 == 1 process x batch B
//   ddp_worker metrics PLUGIN_DIR OUT_DIR            metrics over a sharded split == one process's
//   ddp_worker die|hang OUT_DIR                      rank 1 dies (SIGKILL) or hangs at step 3;
//                                                    rank 0 must fail with a DistributedError (exit 3)
//   ddp_worker syncbn OUT_DIR                        2 ranks x batch B/2 with sync_batchnorm == 1
//                                                    process x batch B, on a model with batch norm
//   ddp_worker fit MODE DIR                          the trainer: resume (ddp_fit_scenarios.cpp)
//
// No trainer: a hand-written loop with the DistributedContext calls where the fit loop makes them.
#include <torch/torch.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <thread>

#include "distributed/distributed_context.h"
#include "plugin_loader.h"
#include "xp/plugin.h"

namespace xd = xp::distributed;

int scenario_fit(const std::string& mode, const std::string& dir);  // ddp_fit_scenarios.cpp

namespace {

struct Net : torch::nn::Module {
  Net() {
    fc1 = register_module("fc1", torch::nn::Linear(12, 16));
    fc2 = register_module("fc2", torch::nn::Linear(16, 16));
    out = register_module("out", torch::nn::Linear(16, 4));
  }
  torch::Tensor forward(torch::Tensor x) { return out(torch::tanh(fc2(torch::tanh(fc1(x))))); }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, out{nullptr};
};

// Batch norm of both kinds between the layers: per-rank statistics differ from the global batch's.
struct BnNet : torch::nn::Module {
  BnNet() {
    fc1 = register_module("fc1", torch::nn::Linear(12, 16));
    bn1 = register_module("bn1", torch::nn::BatchNorm1d(16));
    bn2 = register_module("bn2", torch::nn::BatchNorm2d(4));
    out = register_module("out", torch::nn::Linear(16, 4));
  }
  torch::Tensor forward(torch::Tensor x) {
    auto h = torch::tanh(bn1(fc1(x)));
    h = bn2(h.view({-1, 4, 2, 2}));
    return out(torch::relu(h).flatten(1));
  }
  torch::nn::Linear fc1{nullptr}, out{nullptr};
  torch::nn::BatchNorm1d bn1{nullptr};
  torch::nn::BatchNorm2d bn2{nullptr};
};

constexpr int64_t kSamples = 96, kGlobalBatch = 16;

void write(const std::string& dir, int rank, const std::string& text) {
  std::ofstream(dir + "/rank" + std::to_string(rank) + ".txt") << text << "\n";
}

template <class Module>
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::string& name, Module& net) {
  if (name == "sgd") return std::make_unique<torch::optim::SGD>(net.parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  return std::make_unique<torch::optim::AdamW>(net.parameters(), torch::optim::AdamWOptions(0.01).weight_decay(0.01));
}

// Trains `net` over the epoch `order` in steps of `batch` samples, accumulating `accumulate`
// micro-batches per optimizer step. Each rank's loss is the mean over its own micro-batch divided
// by accumulate, exactly what the fit loop does.
template <class Module>
void train(Module& net, torch::optim::Optimizer& opt, xd::DistributedContext& dist, const torch::Tensor& x,
           const torch::Tensor& y, const std::vector<int64_t>& order, int64_t batch, int64_t accumulate,
           int die_at_step = -1, bool hang = false) {
  const int64_t micro_steps = static_cast<int64_t>(order.size()) / batch;
  opt.zero_grad();
  for (int64_t i = 0; i < micro_steps; ++i) {
    if (i == die_at_step && dist.rank() == 1) {
      if (hang) std::this_thread::sleep_for(std::chrono::seconds(60));
      std::raise(SIGKILL);
    }
    auto idx = torch::tensor(std::vector<int64_t>(order.begin() + i * batch, order.begin() + (i + 1) * batch));
    const bool steps = (i + 1) % accumulate == 0 || i + 1 == micro_steps;
    dist.before_forward();
    auto loss = torch::nn::functional::cross_entropy(net.forward(x.index_select(0, idx)), y.index_select(0, idx)) /
                static_cast<double>(accumulate);
    dist.before_backward(steps);
    loss.backward();
    if (steps) {
      dist.finish_gradients();
      opt.step();
      opt.zero_grad();
    }
  }
}

int scenario_train(const std::string& optimizer, int64_t accumulate, const std::string& out_dir) {
  xd::DistributedOptions options;
  options.bucket_mb = 0.0005;  // ~500 bytes: several buckets for this small net, so ordering matters
  options.timeout_s = 20;
  auto dist = xd::DistributedContext::from_environment(options, torch::kCPU);
  torch::manual_seed(7);
  auto x = torch::randn({kSamples, 12});
  auto y = torch::randint(0, 4, {kSamples});
  std::vector<int64_t> order(kSamples);
  for (int64_t i = 0; i < kSamples; ++i) order[static_cast<size_t>(i)] = (i * 37) % kSamples;  // a permutation

  // Reference: one process, the whole batch.
  torch::manual_seed(1);
  Net reference;
  auto ref_opt = make_optimizer(optimizer, reference);
  auto single = xd::DistributedContext::create(xd::World{}, options, torch::kCPU);
  train(reference, *ref_opt, *single, x, y, order, kGlobalBatch, accumulate);

  // Data parallel: rank 1 starts from other weights, so the broadcast from rank 0 must happen.
  torch::manual_seed(1 + static_cast<uint64_t>(dist->rank()) * 100);
  Net net;
  dist->prepare_model(net);
  auto opt = make_optimizer(optimizer, net);
  const int64_t per_rank = kGlobalBatch / dist->world_size();
  train(net, *opt, *dist, x, y, dist->shard_training(order, per_rank), per_rank, accumulate);

  double worst = 0;
  auto ref_params = reference.named_parameters();
  for (const auto& p : net.named_parameters())
    worst = std::max(worst, (p.value() - ref_params[p.key()]).abs().max().item<double>());
  double moved = 0;
  torch::manual_seed(1);
  Net initial;
  auto init_params = initial.named_parameters();
  for (const auto& p : net.named_parameters())
    moved = std::max(moved, (p.value() - init_params[p.key()]).abs().max().item<double>());
  const auto* stats = dist->reducer_stats();
  std::ostringstream report;
  report << "max_abs_diff " << worst << " moved " << moved << " buckets " << (stats ? stats->buckets : 0)
         << " reductions " << (stats ? stats->reductions : 0);
  write(out_dir, dist->rank(), report.str());
  std::cout << "rank " << dist->rank() << " " << report.str() << "\n";
  return worst < 2e-5 && moved > 1e-3 ? 0 : 1;
}

// Largest difference between two modules' parameters and buffers (running statistics too).
double max_difference(torch::nn::Module& a, torch::nn::Module& b) {
  double worst = 0;
  auto pb = b.named_parameters();
  for (const auto& p : a.named_parameters()) worst = std::max(worst, (p.value() - pb[p.key()]).abs().max().item<double>());
  auto bb = b.named_buffers();
  for (const auto& t : a.named_buffers())
    worst = std::max(worst, (t.value().to(torch::kDouble) - bb[t.key()].to(torch::kDouble)).abs().max().item<double>());
  return worst;
}

int scenario_sync_batchnorm(const std::string& out_dir) {
  xd::DistributedOptions options;
  options.timeout_s = 20;
  auto dist = xd::DistributedContext::from_environment(options, torch::kCPU);
  torch::manual_seed(7);
  auto x = torch::randn({kSamples, 12}) * 2 + 1;
  auto y = torch::randint(0, 4, {kSamples});
  std::vector<int64_t> order(kSamples);
  for (int64_t i = 0; i < kSamples; ++i) order[static_cast<size_t>(i)] = (i * 37) % kSamples;
  const int64_t per_rank = kGlobalBatch / dist->world_size();
  const auto shard = dist->shard_training(order, per_rank);

  // Reference: one process, the whole batch, torch's own batch norm.
  torch::manual_seed(1);
  BnNet reference;
  auto ref_opt = make_optimizer("sgd", reference);
  auto single = xd::DistributedContext::create(xd::World{}, options, torch::kCPU);
  train(reference, *ref_opt, *single, x, y, order, kGlobalBatch, 1);

  // Control: 2 ranks without synchronisation normalise each half batch on its own: not the same.
  torch::manual_seed(1);
  BnNet control;
  dist->prepare_model(control);
  auto control_opt = make_optimizer("sgd", control);
  train(control, *control_opt, *dist, x, y, shard, per_rank, 1);
  const double control_diff = max_difference(control, reference);

  // Synchronised (what train.distributed.sync_batchnorm does in prepare_model).
  torch::manual_seed(1 + static_cast<uint64_t>(dist->rank()) * 100);
  BnNet net;
  double worst = 0;
  int64_t calls = 0;
  {
    xd::SyncBatchNorm sync(dist->communicator());
    dist->prepare_model(net);
    auto opt = make_optimizer("sgd", net);
    train(net, *opt, *dist, x, y, shard, per_rank, 1);
    calls = sync.synchronised_calls();
    // Evaluation is torch's own batch norm even while synchronisation is on: running statistics.
    net.eval();
    reference.eval();
    torch::NoGradGuard no_grad;
    worst = std::max(max_difference(net, reference), (net.forward(x) - reference.forward(x)).abs().max().item<double>());
  }
  std::ostringstream report;
  report << "max_abs_diff " << worst << " control_diff " << control_diff << " synchronised_calls " << calls;
  write(out_dir, dist->rank(), report.str());
  std::cout << "rank " << dist->rank() << " " << report.str() << "\n";
  const int64_t steps = static_cast<int64_t>(shard.size()) / per_rank;
  return worst < 2e-5 && control_diff > 1e-3 && calls == 2 * steps ? 0 : 1;
}

// A metric that cannot combine its state: sharded evaluation must be refused for it.
class MedianScore : public xp::Metric {
 public:
  void reset() override { scores_.clear(); }
  void update(const xp::ModelOutput& o, const xp::Batch&) override { scores_.push_back(o.logits.mean().item<double>()); }
  std::map<std::string, double> compute() const override { return {{"median", scores_.empty() ? 0 : scores_[0]}}; }

 private:
  std::vector<double> scores_;
};

int scenario_metrics(const std::string& plugin_dir, const std::string& out_dir) {
  xp::PluginLoader loader(xp::PluginRegistry::instance());
  loader.load_library(plugin_dir + "/xp_vision.so");
  loader.load_library(plugin_dir + "/xp_classification.so");
  auto dist = xd::DistributedContext::from_environment({}, torch::kCPU);
  auto make = [](const std::string& name) {
    const auto& entry = xp::PluginRegistry::instance().get("metric", name);
    xp::Value::Table values;
    for (const auto& spec : entry.schema.params())
      if (!spec.default_value.is_none()) values[spec.name] = spec.default_value;
    if (name == "topk") values["k"] = xp::Value(int64_t{2});
    return xp::create<xp::Metric>(xp::Params(name, std::move(values), "test"));
  };
  const std::vector<std::string> names{"top1", "topk", "f1", "confusion_matrix"};
  torch::manual_seed(3);
  const int64_t n = 37;  // not a multiple of the world size: the parts differ in size
  auto logits = torch::randn({n, 5});
  auto targets = torch::randint(0, 5, {n});
  targets[4] = -1;  // an unknown label
  auto run = [&](const std::vector<int64_t>& part, std::vector<std::shared_ptr<xp::Metric>>& metrics) {
    for (auto& m : metrics) m->reset();
    for (size_t start = 0; start < part.size(); start += 5) {  // batches of 5
      const size_t end = std::min(part.size(), start + 5);
      auto idx = torch::tensor(std::vector<int64_t>(part.begin() + static_cast<long>(start), part.begin() + static_cast<long>(end)));
      xp::ModelOutput o;
      o.logits = logits.index_select(0, idx);
      xp::Batch b;
      b.target = targets.index_select(0, idx);
      for (auto& m : metrics) m->update(o, b);
    }
  };
  std::vector<int64_t> all(n);
  for (int64_t i = 0; i < n; ++i) all[static_cast<size_t>(i)] = i;
  std::vector<std::shared_ptr<xp::Metric>> whole, sharded;
  for (const auto& name : names) whole.push_back(make(name)), sharded.push_back(make(name));
  run(all, whole);
  run(dist->shard_evaluation(all), sharded);
  std::vector<xp::Metric*> raw;
  for (auto& m : sharded) raw.push_back(m.get());
  if (!dist->reduce_metrics(raw)) return 1;
  std::vector<double> sums{static_cast<double>(dist->shard_evaluation(all).size()), 1.0};
  dist->reduce_sums(sums);
  int bad = 0;
  std::ostringstream report;
  for (size_t k = 0; k < names.size(); ++k) {
    const auto a = whole[k]->compute(), b = sharded[k]->compute();
    for (const auto& [key, value] : a)
      if (!b.count(key) || b.at(key) != value) ++bad, report << "mismatch " << key << " " << value << " vs " << (b.count(key) ? b.at(key) : -1) << "; ";
    report << names[k] << " " << a.begin()->first << "=" << a.begin()->second << "; ";
  }
  MedianScore median;
  const bool refused = !dist->reduce_metrics({&median}) && !xd::DistributedContext::can_shard_evaluation({&median});
  report << "samples " << sums[0] << " ranks " << sums[1] << " refused_unreducible " << refused;
  write(out_dir, dist->rank(), report.str());
  std::cout << "rank " << dist->rank() << " " << report.str() << "\n";
  return bad == 0 && sums[0] == n && sums[1] == dist->world_size() && refused ? 0 : 1;
}

int scenario_failure(bool hang, const std::string& out_dir) {
  xd::DistributedOptions options;
  options.timeout_s = 2;
  auto dist = xd::DistributedContext::from_environment(options, torch::kCPU);
  torch::manual_seed(7);
  auto x = torch::randn({kSamples * 20, 12});
  auto y = torch::randint(0, 4, {kSamples * 20});
  std::vector<int64_t> order(static_cast<size_t>(kSamples * 20));
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  Net net;
  dist->prepare_model(net);
  auto opt = make_optimizer("sgd", net);
  const auto t0 = std::chrono::steady_clock::now();
  try {
    train(net, *opt, *dist, x, y, dist->shard_training(order, 4), 4, 1, /*die_at_step=*/3, hang);
  } catch (const xd::DistributedError& e) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    write(out_dir, dist->rank(), std::string(e.what()) + "\nafter_seconds " + std::to_string(s));
    std::cerr << "error: " << e.what() << "\n";
    return 3;
  }
  write(out_dir, dist->rank(), "finished without noticing");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  torch::set_num_threads(1);
  const std::vector<std::string> a(argv + 1, argv + argc);
  try {
    if (a.size() == 4 && a[0] == "train") return scenario_train(a[1], std::stoll(a[2]), a[3]);
    if (a.size() == 3 && a[0] == "metrics") return scenario_metrics(a[1], a[2]);
    if (a.size() == 2 && (a[0] == "die" || a[0] == "hang")) return scenario_failure(a[0] == "hang", a[1]);
    if (a.size() == 2 && a[0] == "syncbn") return scenario_sync_batchnorm(a[1]);
    if (a.size() == 3 && a[0] == "fit") return scenario_fit(a[1], a[2]);
  } catch (const std::exception& e) {
    std::cerr << "ddp_worker: " << e.what() << "\n";
    return 2;
  }
  std::cerr << "usage: see the comment at the top of tests/distributed/ddp_worker.cpp\n";
  return 64;
}
