#include "eval/ensemble.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <thread>

#include <torch/cuda.h>
#include <torch/torch.h>

#include "config/experiment.h"
#include "data/data_loader.h"
#include "engine/checkpoint.h"
#include "engine/experiment_runner.h"
#include "engine/normalization_stats.h"
#include "eval/tta.h"
#include "xp/errors.h"

namespace xp {

namespace fs = std::filesystem;

namespace {

std::string shape_text(const torch::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

// Metrics expect logits; the softmax of log(p) is p again, so every metric sees the averaged
// probabilities. One-channel segmentation is a sigmoid: its inverse is logit(p).
torch::Tensor to_logits(const torch::Tensor& probabilities, Task task) {
  torch::Tensor p = probabilities.clamp(1e-7, 1 - 1e-7);
  if (task == Task::Segmentation && p.size(1) == 1) return torch::log(p) - torch::log1p(-p);
  return torch::log(p);
}

}  // namespace

MemberPredictions predict_member(const EnsembleMember& member, const EnsembleOptions& options, PluginLoader& loader) {
  check_tta_mode(options.tta);
  if (options.checkpoint != "best" && options.checkpoint != "last")
    throw ConfigError("checkpoint must be 'best' or 'last', not '" + options.checkpoint + "'");
  const fs::path config = member.run_dir / "config.toml";
  const fs::path weights = member.run_dir / "checkpoints" / (options.checkpoint + ".pt");
  std::error_code ec;
  if (!fs::is_regular_file(config, ec))
    throw ConfigError("run " + member.id + " has no config.toml in " + member.run_dir.string());
  if (!fs::is_regular_file(weights, ec))
    throw ConfigError("run " + member.id + " has no checkpoint " + weights.string() +
                      (options.checkpoint == "best" ? " (try --checkpoint last)" : ""));
  // The member's own normalization statistics (normalize stats = "train"), as it was trained.
  const RunSpec spec = engine::with_recorded_statistics(resolve_recorded_run(config, loader), member.run_dir);
  engine::TrainSetup setup = engine::build_setup(spec);
  const std::shared_ptr<const Split> split =
      options.split == "test" ? setup.test : options.split == "val" ? setup.val : setup.train;
  if (!split)
    throw ConfigError("run " + member.id + ": its dataset '" + spec.data.plugin() + "' has no " + options.split +
                      " split to evaluate the ensemble on");
  if (options.tta == "multiscale" || options.tta == "five_crop") {
    if (setup.info.task != Task::Classification)
      throw ConfigError("TTA mode '" + options.tta + "' is for classification; run " + member.id +
                        " is a segmentation run (use 'flips')");
  }

  const auto cores = static_cast<int64_t>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(static_cast<int>(setup.options.threads > 0 ? setup.options.threads : cores));
  // Evaluation needs no particular device: the fastest one here, whatever the run trained on.
  const torch::Device device = torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  setup.model->to(device);
  engine::load_model_weights(weights, *setup.model, device);
  setup.model->eval();

  data::LoaderOptions lo;
  lo.batch_size = setup.options.eval_batch_size > 0 ? setup.options.eval_batch_size : setup.options.batch_size;
  lo.drop_last = false;
  lo.workers = engine::resolve_workers(setup.options.workers, device.is_cuda());
  lo.prefetch = setup.options.prefetch;
  lo.seed = setup.seed;
  lo.task = setup.info.task;
  std::vector<int64_t> order(split->size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  // Epoch -1, as the trainer evaluates: the member sees exactly the inputs its own test saw.
  data::EpochLoader epoch(split, setup.eval_augment, lo, -1, std::move(order));

  MemberPredictions out;
  out.id = member.id;
  out.task = setup.info.task;
  out.metrics = setup.metrics;
  const auto n = static_cast<int64_t>(split->size());
  out.present = torch::zeros({n}, torch::kBool);
  torch::NoGradGuard no_grad;
  while (auto next = epoch.next()) {
    Batch& batch = *next;
    torch::Tensor p = predict_probabilities(*setup.model, batch.input.to(device), setup.info.task, options.tta)
                          .to(torch::kCPU, torch::kFloat);
    torch::Tensor index = batch.index.to(torch::kLong);
    if (!out.probabilities.defined()) {
      auto shape = p.sizes().vec();
      shape[0] = n;
      out.probabilities = torch::zeros(shape, torch::kFloat);
      auto target_shape = batch.target.sizes().vec();
      target_shape[0] = n;
      out.targets = torch::zeros(target_shape, batch.target.options().device(torch::kCPU));
      if (batch.target.scalar_type() == torch::kLong) out.targets.fill_(-1);
      for (const auto& [name, t] : batch.extra) out.extra[name] = torch::full({n}, -1, torch::kLong);
    }
    out.probabilities.index_copy_(0, index, p);
    out.targets.index_copy_(0, index, batch.target.to(torch::kCPU));
    for (const auto& [name, t] : batch.extra)
      if (auto it = out.extra.find(name); it != out.extra.end()) it->second.index_copy_(0, index, t.to(torch::kCPU, torch::kLong));
    out.present.index_fill_(0, index, true);
  }
  if (!out.probabilities.defined())
    throw ConfigError("run " + member.id + ": no sample of its " + options.split + " split could be loaded");
  if (options.out)
    *options.out << "member " << member.id << "  " << spec.experiment << (spec.variant.empty() ? "" : " / " + spec.variant)
                 << "  seed " << spec.seed << "  " << out.present.sum().item<int64_t>() << " samples, "
                 << options.checkpoint << ".pt, tta " << options.tta << "\n"
                 << std::flush;
  return out;
}

void check_aligned(const std::vector<MemberPredictions>& members) {
  if (members.empty()) throw ConfigError("an ensemble needs at least one member");
  const auto& first = members.front();
  for (size_t i = 1; i < members.size(); ++i) {
    const auto& m = members[i];
    const std::string against = " than the first member " + first.id + "; an ensemble needs every member to predict "
                                "the same test split";
    if (m.task != first.task)
      throw ConfigError("member " + m.id + " is a different task (classification vs segmentation) than " + first.id);
    if (m.probabilities.size(0) != first.probabilities.size(0))
      throw ConfigError("member " + m.id + " has " + std::to_string(m.probabilities.size(0)) + " test samples, " +
                        std::to_string(first.probabilities.size(0)) + " in " + first.id + "; its test split differs" +
                        " (an ensemble needs every member to predict the same test split)");
    if (m.probabilities.size(1) != first.probabilities.size(1))
      throw ConfigError("member " + m.id + " predicts " + std::to_string(m.probabilities.size(1)) + " classes, " +
                        std::to_string(first.probabilities.size(1)) + " in " + first.id);
    if (!m.probabilities.sizes().equals(first.probabilities.sizes()))
      throw ConfigError("member " + m.id + " predicts shape " + shape_text(m.probabilities) + ", " +
                        shape_text(first.probabilities) + " in " + first.id + " (segmentation members must predict "
                        "masks of the same size)");
    // Samples both could load must carry the same labels, else the splits are not the same.
    torch::Tensor both = m.present & first.present;
    torch::Tensor differs = both.view({-1, 1}) & (m.targets != first.targets).reshape({m.targets.size(0), -1});
    if (differs.any().item<bool>()) {
      const int64_t at = differs.any(1).nonzero()[0][0].item<int64_t>();
      throw ConfigError("member " + m.id + " has other targets" + against + " (first difference at sample " +
                        std::to_string(at) + ")");
    }
  }
}

MemberPredictions average_predictions(const std::vector<MemberPredictions>& members, const std::vector<double>& weights) {
  check_aligned(members);
  if (weights.size() != members.size())
    throw ConfigError(std::to_string(weights.size()) + " weights for " + std::to_string(members.size()) + " members");
  double total = 0;
  for (double w : weights) {
    if (!(w >= 0) || !std::isfinite(w)) throw ConfigError("ensemble weights must be finite and >= 0");
    total += w;
  }
  if (total <= 0) throw ConfigError("at least one ensemble weight must be > 0");
  MemberPredictions out;
  out.id = "ensemble";
  out.task = members.front().task;
  out.targets = members.front().targets;
  out.extra = members.front().extra;
  out.metrics = members.front().metrics;
  out.probabilities = torch::zeros_like(members.front().probabilities);
  out.present = torch::ones_like(members.front().present);
  for (size_t i = 0; i < members.size(); ++i) {
    out.probabilities.add_(members[i].probabilities, weights[i] / total);
    out.present &= members[i].present;
  }
  return out;
}

std::map<std::string, double> score_predictions(const MemberPredictions& predictions, const torch::Tensor& mask,
                                                const std::vector<std::shared_ptr<Metric>>& metrics,
                                                const std::string& prefix, int64_t batch_size) {
  torch::Tensor rows = mask.nonzero().view({-1});
  const int64_t n = rows.size(0);
  std::map<std::string, double> values;
  if (n == 0) return values;
  for (const auto& m : metrics) m->reset();
  double nll_sum = 0;
  int64_t nll_count = 0;
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    torch::Tensor take = rows.narrow(0, begin, std::min(batch_size, n - begin));
    Batch batch;
    torch::Tensor p = predictions.probabilities.index_select(0, take);
    batch.target = predictions.targets.index_select(0, take);
    batch.index = take;
    for (const auto& [name, t] : predictions.extra) batch.extra[name] = t.index_select(0, take);
    // Metrics read the batch size from the input; they never look at the pixels.
    batch.input = torch::empty({take.size(0), 0});
    ModelOutput output{to_logits(p, predictions.task), {}};
    for (const auto& m : metrics) m->update(output, batch);
    if (predictions.task == Task::Classification) {
      torch::Tensor known = batch.target >= 0;
      torch::Tensor picked = p.gather(1, batch.target.clamp_min(0).view({-1, 1})).view({-1}).clamp_min(1e-12);
      nll_sum -= torch::log(picked).masked_select(known).sum().item<double>();
      nll_count += known.sum().item<int64_t>();
    }
  }
  for (const auto& m : metrics)
    for (const auto& [k, v] : m->compute()) values[prefix + "_" + k] = v;
  if (nll_count > 0) values[prefix + "_nll"] = nll_sum / static_cast<double>(nll_count);
  return values;
}

EnsembleScores evaluate_ensemble(const std::vector<EnsembleMember>& members, const EnsembleOptions& options,
                                 PluginLoader& loader) {
  if (members.empty()) throw ConfigError("an ensemble needs at least one member");
  check_tta_mode(options.tta);
  std::vector<MemberPredictions> predictions;
  std::vector<double> weights;
  for (const auto& m : members) {
    predictions.push_back(predict_member(m, options, loader));
    weights.push_back(m.weight);
    // Fail on a mismatched member before spending time on the next one.
    check_aligned(predictions);
  }
  MemberPredictions mean = average_predictions(predictions, weights);
  EnsembleScores scores;
  // The first member's metric plugins score everyone, so the columns compare like with like.
  const auto& metrics = predictions.front().metrics;
  scores.samples = mean.present.sum().item<int64_t>();
  scores.skipped = mean.present.size(0) - scores.samples;
  scores.classes = mean.probabilities.size(1);
  for (const auto& p : predictions) scores.members.push_back(score_predictions(p, mean.present, metrics, options.split));
  scores.ensemble = score_predictions(mean, mean.present, metrics, options.split);
  // The metric plugins' values, then the NLL this file adds.
  const std::string nll = options.split + "_nll";
  for (const auto& [k, v] : scores.ensemble)
    if (k != nll) scores.metric_names.push_back(k);
  if (scores.ensemble.count(nll)) scores.metric_names.push_back(nll);
  return scores;
}

}  // namespace xp
