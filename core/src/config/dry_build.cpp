#include "config/dry_build.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <sstream>

#include <torch/torch.h>

#include "config/task_check.h"
#include "data/collate.h"
#include "engine/experiment_runner.h"
#include "engine/mixed_precision.h"
#include "engine/normalization_stats.h"
#include "engine/param_groups.h"
#include "engine/runtime.h"
#include "engine/train_options.h"
#include "xp/augmentation.h"
#include "xp/dataset.h"
#include "xp/loss.h"
#include "xp/metric.h"
#include "xp/model.h"
#include "xp/plugin_registry.h"
#include "xp/rng.h"
#include "xp/sampler.h"

namespace xp::config {

namespace {

std::string shape(const torch::Tensor& t) {
  if (!t.defined()) return "none";
  std::ostringstream s;
  s << "[";
  for (int64_t i = 0; i < t.dim(); ++i) s << (i ? ", " : "") << t.size(i);
  s << "]";
  return s.str();
}

std::string reason(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) return c10->what_without_backtrace();
  return e.what();
}

// Runs `step`; an exception becomes an error at `where`, labelled `what` ("loss 'focal'"). A
// ConfigError that already names its place is kept as it is.
template <class F>
bool step(ErrorCollector& errors, const std::string& what, const std::string& where, F&& f) {
  try {
    f();
    return true;
  } catch (const ConfigError& e) {
    if (!e.where().empty())
      errors.add(e);
    else
      errors.add(ConfigError(what + ": " + e.what(), where));
  } catch (const std::exception& e) {
    errors.add(ConfigError(what + ": " + reason(e), where));
  }
  return false;
}

std::string label(const std::string& kind, const Params& p) { return kind + " '" + p.plugin() + "'"; }

// Two samples of `split` (skipping unreadable ones, as the loader does), transformed by `pipeline`.
std::vector<Sample> load_samples(const Split& split, size_t want, size_t& bad) {
  std::vector<Sample> out;
  for (size_t i = 0; i < split.size() && out.size() < want && bad < 20; ++i) {
    try {
      Sample s = split.load(i);
      s.index = static_cast<int64_t>(i);
      out.push_back(std::move(s));
    } catch (const BadSample&) {
      ++bad;
    }
  }
  return out;
}

}  // namespace

bool dry_build(const RunSpec& unresolved, ErrorCollector& errors, DatasetCache* datasets) {
  torch::NoGradGuard no_grad;
  // normalize stats = "train": resolved from the training split in memory, as `xp run` does
  // (recorded nowhere), so the pipeline below is the one the run will build.
  RunSpec spec = unresolved;
  if (!step(errors, "normalize statistics", unresolved.data.where(),
            [&] { spec = engine::resolve_normalization_stats(unresolved, {}, nullptr).spec; }))
    return false;
  torch::manual_seed(Rng::mix(static_cast<uint64_t>(spec.seed), 0x1417));
  const size_t before = errors.size();
  const std::string data_label = label("data", spec.data);

  // Data: the dataset, its train split and two readable samples.
  std::shared_ptr<Dataset> dataset;
  DatasetInfo info;
  std::shared_ptr<Split> train;
  std::vector<Sample> samples;
  const bool data_ok = step(errors, data_label, spec.data.where(), [&] {
    std::string key;
    for (const auto& [k, v] : spec.flat)
      if (k.rfind("data.", 0) == 0) key += k + "=" + v + "\n";
    if (datasets && datasets->count(key)) {
      dataset = datasets->at(key);
    } else {
      dataset = create<Dataset>(spec.data);
      if (datasets) (*datasets)[key] = dataset;
    }
    info = dataset->info();
    // The static task check (config/task_check.h) trusts the dataset's declared tasks; hold the
    // plugin to them.
    const std::string task = info.task == Task::Segmentation ? "segmentation" : "classification";
    if (const PluginEntry* entry = PluginRegistry::instance().find("dataset", spec.data.plugin()))
      if (!tasks_compatible({task}, entry->schema.task_names()))
        throw std::runtime_error("its data is " + task + ", but its schema declares " +
                                 tasks_text(entry->schema.task_names()) + " (a bug in the plugin)");
    train = dataset->split("train");
    if (train->size() == 0) throw ConfigError("the train split is empty");
    size_t bad = 0;
    samples = load_samples(*train, 2, bad);
    if (samples.empty())
      throw ConfigError("none of the first " + std::to_string(bad) + " samples of the train split can be read");
  });

  std::shared_ptr<Sampler> sampler;
  if (data_ok && !spec.sampler.plugin().empty())
    step(errors, label("sampler", spec.sampler), spec.sampler.where(),
         [&] { sampler = create<Sampler>(engine::fill_from_dataset(spec.sampler, info)); });

  // Per-sample augmentations, in order, on the two samples.
  bool pipeline_ok = data_ok;
  Rng rng(Rng::mix(static_cast<uint64_t>(spec.seed), 0xd57));
  for (size_t i = 0; i < spec.augment.size(); ++i) {
    const Params& p = spec.augment[i];
    std::shared_ptr<Augmentation> aug;
    const bool built = step(errors, "augment[" + std::to_string(i) + "] '" + p.plugin() + "'", p.where(),
                            [&] { aug = build_augmentation(data_ok ? engine::fill_from_dataset(p, info) : p); });
    if (!built || !pipeline_ok) {
      pipeline_ok = false;
      continue;
    }
    pipeline_ok = step(errors, "augment[" + std::to_string(i) + "] '" + p.plugin() + "'", p.where(), [&] {
      for (auto& s : samples) {
        if (!aug->reads_encoded()) decode_pending(s);
        aug->apply(s, rng);
      }
    });
  }
  for (size_t i = 0; i < spec.eval_augment.size(); ++i) {
    const Params& p = spec.eval_augment[i];
    step(errors, "eval_augment[" + std::to_string(i) + "] '" + p.plugin() + "'", p.where(),
         [&] { build_augmentation(data_ok ? engine::fill_from_dataset(p, info) : p); });
  }

  Batch batch;
  if (pipeline_ok)
    pipeline_ok = step(errors, data_label + " with its [[augment]] pipeline", spec.data.where(), [&] {
      std::vector<data::PreparedSample> prepared;
      for (auto& s : samples) {
        decode_pending(s);
        prepared.push_back(data::prepare_sample(s));
      }
      batch = data::collate(prepared, info.task);
    });

  // Batch augmentations (mixup, cutmix) on the collated batch; metrics see it unmixed, as in
  // evaluation.
  Batch clean = batch;
  if (pipeline_ok) {
    clean.input = batch.input.clone();
    if (batch.target.defined()) clean.target = batch.target.clone();
  }
  for (size_t i = 0; i < spec.batch_augment.size(); ++i) {
    const Params& p = spec.batch_augment[i];
    const std::string what = "batch_augment[" + std::to_string(i) + "] '" + p.plugin() + "'";
    std::shared_ptr<BatchAugmentation> aug;
    if (!step(errors, what, p.where(),
              [&] { aug = create<BatchAugmentation>(data_ok ? engine::fill_from_dataset(p, info) : p); }))
      continue;
    // A failing batch augmentation is reported; the rest of the check goes on with the unmixed batch.
    if (pipeline_ok && !step(errors, what + " (on a " + std::string(info.task == Task::Segmentation ? "segmentation"
                                                                                               : "classification") +
                                     " batch, target " + shape(batch.target) + ")",
                         p.where(), [&] { aug->apply(batch, info.num_classes, rng); })) {
      batch = clean;
      batch.input = clean.input.clone();
      if (clean.target.defined()) batch.target = clean.target.clone();
    }
  }

  // Model, loss and metrics, built with num_classes from the dataset; then the batch goes through.
  std::shared_ptr<Model> model;
  std::shared_ptr<Loss> loss;
  std::vector<std::shared_ptr<Metric>> metrics;
  if (data_ok) {
    step(errors, label("model", spec.model), spec.model.where(),
         [&] { model = create<Model>(engine::fill_from_dataset(spec.model, info)); });
    step(errors, label("loss", spec.loss), spec.loss.where(),
         [&] { loss = create<Loss>(engine::fill_from_dataset(spec.loss, info)); });
    for (size_t i = 0; i < spec.metrics.size(); ++i) {
      const Params& p = spec.metrics[i];
      std::shared_ptr<Metric> m;
      if (step(errors, "metrics[" + std::to_string(i) + "] '" + p.plugin() + "'", p.where(),
               [&] { m = create<Metric>(engine::fill_from_dataset(p, info)); }))
        metrics.push_back(m);
      else
        metrics.push_back(nullptr);
    }
  }

  if (model) {
    // Freeze globs of every stage and the optimizer's parameter groups must match parameters.
    engine::NamedParameters params;
    for (const auto& p : model->named_parameters(true)) params.emplace_back(p.key(), p.value());
    if (loss)
      for (const auto& p : loss->named_parameters(true)) params.emplace_back("loss." + p.key(), p.value());
    const auto options = engine::TrainOptions::from_params(spec.train);
    const auto stages = spec.train.get_sections("stages");
    for (size_t i = 0; i < options.stages.size() && i < stages.size(); ++i)
      step(errors, "[train.stages[" + std::to_string(i) + "]]", stages[i].where(), [&] {
        torch::AutoGradMode grad(true);  // apply_freeze sets requires_grad
        engine::apply_freeze(params, options.stages[i].freeze);
      });
    for (auto& [name, t] : params) t.set_requires_grad(true);
    step(errors, "[train.optimizer]", spec.train.get_section("optimizer").where(),
         [&] { engine::build_optimizer(options.optimizer, params); });
  }

  if (!pipeline_ok || !model) return errors.size() == before;
  const auto options = engine::TrainOptions::from_params(spec.train);
  // The layout the run will train in (train.channels_last; auto = NHWC on a oneDNN CPU): a model
  // that cannot take NHWC (a .view() across a feature map) is reported here, not at step one.
  std::string layout;
  if (batch.input.dim() == 4) {
    bool nhwc = false;
    try {
      nhwc = engine::use_channels_last(options.channels_last, engine::resolve_device(options.device));
    } catch (const std::exception&) {  // an impossible device is reported by the run's own checks
    }
    if (nhwc) {
      engine::Runtime nhwc_runtime;
      nhwc_runtime.channels_last = true;
      nhwc_runtime.place(*model);
      batch.input = engine::with_nhwc_strides(batch.input);
      clean.input = engine::with_nhwc_strides(clean.input);
      layout = ", channels_last (train.channels_last = \"" + options.channels_last + "\"; \"off\" keeps NCHW)";
    }
  }
  // A mixed-precision run computes forward and loss under autocast: a plugin that mixes dtypes (an
  // index_put_ of float values into bf16 logits) fails here too, under what the CPU's autocast can
  // do of it (bf16; fp16 has no CPU autocast to try it with).
  std::optional<engine::AutocastScope> autocast;
  const c10::ScalarType amp =
      engine::effective_precision(engine::precision_dtype(options.precision), torch::Device(torch::kCPU));
  if (amp != torch::kFloat) autocast.emplace(amp, torch::kCPU);
  model->train();
  ModelOutput output;
  const std::string in_shape = shape(batch.input);
  if (!step(errors, label("model", spec.model) + " on the input " + in_shape + layout + " (dataset channels " +
                        std::to_string(info.channels) + ")",
            spec.model.where(), [&] { output = model->forward(batch.input); }))
    return false;
  const std::string shapes = " (model output " + shape(output.logits) + ", target " + shape(batch.target) +
                             (batch.soft_target.defined() ? ", soft target " + shape(batch.soft_target) : "") + ")";
  if (loss)
    step(errors, label("loss", spec.loss) + shapes, spec.loss.where(), [&] {
      torch::Tensor value = loss->forward(output, batch);
      if (!value.defined() || value.numel() != 1)
        throw std::runtime_error("returned " + shape(value) + ", not a scalar");
    });
  if (metrics.empty()) return errors.size() == before;
  model->eval();
  ModelOutput eval_output;
  if (!step(errors, label("model", spec.model) + " in eval mode on the input " + shape(clean.input),
            spec.model.where(), [&] { eval_output = model->forward(clean.input); }))
    return false;
  autocast.reset();
  // As the evaluator: metrics see float logits whatever the forward computed in.
  if (eval_output.logits.defined() && eval_output.logits.scalar_type() != torch::kFloat)
    eval_output.logits = eval_output.logits.to(torch::kFloat);
  const std::string eval_shapes = " (model output " + shape(eval_output.logits) + ", target " +
                                  shape(clean.target) + ")";
  for (size_t i = 0; i < metrics.size(); ++i) {
    if (!metrics[i]) continue;
    const Params& p = spec.metrics[i];
    step(errors, "metrics[" + std::to_string(i) + "] '" + p.plugin() + "'" + eval_shapes, p.where(), [&] {
      metrics[i]->reset();
      metrics[i]->update(eval_output, clean);
      metrics[i]->compute();
    });
  }
  return errors.size() == before;
}

}  // namespace xp::config

namespace xp::config {

void dry_build_runs(const std::vector<RunSpec>& runs, std::ostream* progress) {
  std::vector<const RunSpec*> firsts;
  for (const auto& r : runs)
    if (std::none_of(firsts.begin(), firsts.end(), [&](const RunSpec* f) { return f->variant == r.variant; }))
      firsts.push_back(&r);
  std::vector<std::pair<ConfigError, std::vector<std::string>>> found;
  DatasetCache datasets;
  for (const RunSpec* r : firsts) {
    const auto start = std::chrono::steady_clock::now();
    ErrorCollector mine(1000);
    const bool ok = dry_build(*r, mine, &datasets);
    if (progress) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::ostringstream line;
      line.precision(2);
      line << std::fixed << "dry build" << (r->variant.empty() ? "" : ": variant " + r->variant) << " "
           << (ok ? "ok" : std::to_string(mine.size()) + (mine.size() == 1 ? " error" : " errors")) << " ("
           << seconds << " s)\n";
      *progress << line.str() << std::flush;
    }
    for (const auto& e : mine.errors()) {
      auto it = std::find_if(found.begin(), found.end(),
                             [&](const auto& f) { return std::string(f.first.what()) == e.what(); });
      if (it == found.end()) it = found.insert(found.end(), {e, {}});
      it->second.push_back(r->variant);
    }
  }
  ErrorCollector errors;
  for (const auto& [e, in] : found) {
    if (firsts.size() < 2 || in.size() == firsts.size()) {
      errors.add(e);
      continue;
    }
    std::string names;
    for (const auto& n : in) names += (names.empty() ? "" : ", ") + n;
    std::string message = e.what();
    if (!e.where().empty() && message.rfind(e.where() + ": ", 0) == 0) message = message.substr(e.where().size() + 2);
    errors.add(ConfigError(message + " (variant" + (in.size() > 1 ? "s " : " ") + names + ")", e.where()));
  }
  errors.throw_if_any();
}

}  // namespace xp::config
