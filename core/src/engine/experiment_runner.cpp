#include "engine/experiment_runner.h"

#include <ATen/detail/CUDAHooksInterface.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <torch/cuda.h>
#include <torch/version.h>

#include "config/declared_variants.h"
#include "distributed/world.h"
#include "engine/normalization_stats.h"
#include "xp/base/atomic_file.h"
#include "xp/errors.h"
#include "xp/plugin_registry.h"
#include "xp/rng.h"
#include "xp/version.h"

namespace xp::engine {

namespace fs = std::filesystem;

namespace {

// stdout of a shell command, "" when it fails. Used only for git.
std::string capture(const std::string& command, size_t limit = 4u << 20) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0 && out.size() < limit) out.append(buf.data(), n);
  if (::pclose(pipe) != 0) return {};
  return out;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::shared_ptr<const Split> optional_split(Dataset& dataset, const std::string& name) {
  try {
    auto split = dataset.split(name);
    // An empty split (e.g. val_size = 0) is no split: nothing to evaluate, monitors fall back.
    return split && split->size() > 0 ? split : nullptr;
  } catch (const ConfigError&) {
    return nullptr;  // the dataset has no such split
  }
}

}  // namespace

std::vector<int64_t> class_groups_from_names(const std::vector<std::string>& class_names) {
  std::vector<int64_t> groups;
  std::vector<std::string> seen;  // group names in order of first appearance
  for (size_t i = 0; i < class_names.size(); ++i) {
    const std::string& name = class_names[i];
    const size_t slash = name.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == name.size())
      throw ConfigError("class " + std::to_string(i) + " is named '" + name +
                        "', not 'group/leaf' (e.g. 'tomato/early_blight')");
    const std::string group = name.substr(0, slash);
    auto it = std::find(seen.begin(), seen.end(), group);
    if (it == seen.end()) it = seen.insert(seen.end(), group);
    groups.push_back(static_cast<int64_t>(it - seen.begin()));
  }
  return groups;
}

Params fill_from_dataset(const Params& params, const DatasetInfo& info) {
  Params out = params;
  // in_channels = 0: as many as the dataset's samples have bands.
  if (out.has("in_channels") && out.get("in_channels").type() == Value::Type::Int && out.get_int("in_channels") == 0)
    out = out.with("in_channels", Value(info.channels));
  if (out.has("num_classes") && out.get("num_classes").type() == Value::Type::Int && out.get_int("num_classes") == 0)
    out = out.with("num_classes", Value(info.num_classes));
  if (out.has("class_groups") && out.get("class_groups").type() == Value::Type::List &&
      out.get("class_groups").as_list().empty()) {
    std::vector<int64_t> groups;
    try {
      if (info.class_names.empty()) throw ConfigError("the dataset does not name its classes");
      groups = class_groups_from_names(info.class_names);
    } catch (const ConfigError& e) {
      throw ConfigError(params.plugin() + ": class_groups = [] takes the groups from the dataset's class names "
                            "'group/leaf', but " + e.what() +
                            "; use a two-level dataset (image_folder depth = 2, csv_images group_column, "
                            "synthetic_leaves) or set class_groups",
                        params.where());
    }
    out = out.with("class_groups", Value(Value::List(groups.begin(), groups.end())));
  }
  return out;
}

TrainSetup build_data_setup(const RunSpec& unresolved) {
  // normalize stats = "train" not resolved by run_one (xp augment preview): computed, not recorded.
  const RunSpec spec = wants_training_statistics(unresolved) ? resolve_normalization_stats(unresolved, {}).spec : unresolved;
  TrainSetup s;
  s.options = TrainOptions::from_params(spec.train);
  s.seed = static_cast<uint64_t>(spec.seed);
  // Weights are initialised from the run's seed, so the seed drives the model too. Seeded before
  // the dataset, as it always was; samplers and augmentations draw from xp::Rng, not torch.
  torch::manual_seed(Rng::mix(s.seed, 0x1417));
  auto dataset = create<Dataset>(spec.data);
  s.info = dataset->info();
  s.train = dataset->split("train");
  s.val = optional_split(*dataset, "val");
  s.test = optional_split(*dataset, "test");
  if (!spec.sampler.plugin().empty()) s.sampler = create<Sampler>(fill_from_dataset(spec.sampler, s.info));
  for (const auto& p : spec.augment) s.augment.push_back(build_augmentation(fill_from_dataset(p, s.info)));
  for (const auto& p : spec.eval_augment) s.eval_augment.push_back(build_augmentation(fill_from_dataset(p, s.info)));
  auto final_normalize = [&](const std::vector<Params>& pipeline) -> std::optional<PixelNormalization> {
    if (pipeline.empty() || pipeline.back().plugin() != "normalize") return std::nullopt;
    // A clipping normalize stays in the CPU pipeline: the deferred conversion is a scale and shift.
    for (const char* clip : {"clip_low", "clip_high"})
      if (pipeline.back().has(clip) && !pipeline.back().get_floats(clip).empty()) return std::nullopt;
    return find_normalization({fill_from_dataset(pipeline.back(), s.info)});
  };
  s.augment_final_normalize = final_normalize(spec.augment);
  s.eval_final_normalize = final_normalize(spec.eval_augment);
  return s;
}

TrainSetup build_setup(const RunSpec& spec) {
  TrainSetup s = build_data_setup(spec);
  s.model = create<Model>(fill_from_dataset(spec.model, s.info));
  s.loss = create<Loss>(fill_from_dataset(spec.loss, s.info));
  for (const auto& p : spec.batch_augment) s.batch_augment.push_back(create<BatchAugmentation>(fill_from_dataset(p, s.info)));
  for (const auto& p : spec.metrics) s.metrics.push_back(create<Metric>(fill_from_dataset(p, s.info)));
  return s;
}

RunInfo make_run_info(const RunSpec& spec, const RunRequest& request) {
  RunInfo info;
  info.experiment = spec.experiment;
  info.variant = spec.variant;
  info.seed = spec.seed;
  info.config_text = spec.canonical;
  info.config_hash = spec.hash;
  info.params = spec.flat;
  info.command_line = request.command_line;
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  info.host = host;
  info.pid = ::getpid();
  info.xp_version = XP_VERSION_STRING;
  info.torch_version = std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
                       std::to_string(TORCH_VERSION_PATCH);
  const bool cuda = torch::cuda::is_available();
  if (cuda) {
    // CUDA runtime version LibTorch was built with (e.g. 12040 -> "12.4") and cuDNN's.
    const long rt = at::detail::getCUDAHooks().versionCUDART();
    info.cuda_version = std::to_string(rt / 1000) + "." + std::to_string((rt % 1000) / 10);
    if (const long dnn = at::detail::getCUDAHooks().versionCuDNN(); dnn > 0)
      info.cuda_version += " (cuDNN " + std::to_string(dnn) + ")";
  }
  const std::string device = TrainOptions::from_params(spec.train).device;
  info.device = device == "auto" ? (cuda ? "cuda" : "cpu") : device;
  if (!spec.source.empty()) {
    const std::string dir = shell_quote(fs::absolute(spec.source).parent_path().string());
    info.git_commit = trim(capture("git -C " + dir + " rev-parse HEAD 2>/dev/null"));
    if (!info.git_commit.empty()) {
      info.git_dirty = !trim(capture("git -C " + dir + " status --porcelain --untracked-files=no 2>/dev/null")).empty();
      if (info.git_dirty) info.git_diff = capture("git -C " + dir + " diff HEAD 2>/dev/null");
    }
  }
  for (const auto& t : spec.tags) info.tags[t] = "";
  // How `xp report` should compare the runs when not told (registry.md): from the registry alone.
  if (!spec.baseline.empty()) info.tags["report_baseline"] = spec.baseline;
  if (!spec.report_metric.empty()) info.tags["report_metric"] = spec.report_metric;
  if (!spec.source.empty() && !spec.variant.empty()) {
    std::vector<std::string> declared;
    try {
      declared = config::declared_variants(spec.source);  // resolved from it a moment ago
    } catch (const std::exception&) {
      // The file was edited or removed since it was resolved: the report falls back to group order.
    }
    std::string joined;
    for (const auto& v : declared) joined += (joined.empty() ? "" : ",") + v;
    if (!joined.empty()) info.tags["report_variants"] = joined;
  }
  for (const auto& [k, v] : request.tags) info.tags[k] = v;
  return info;
}

namespace {

// Data-parallel ranks other than 0 train their share of the run without recording it: rank 0 alone
// writes the registry, the run folder, checkpoints, TensorBoard and the console. A resumed run's
// checkpoint comes from rank 0 too (engine/callbacks/resume.h): these ranks need no run folder.
RunOutcome run_follower_rank(const RunSpec& spec, const RunRequest& request, int rank) {
  RunOutcome outcome;
  outcome.run_id = "rank" + std::to_string(rank);
  std::ostream quiet(nullptr);
  ResolvedStatistics statistics = resolve_normalization_stats(spec, {}, nullptr);
  TrainSetup setup = build_setup(statistics.spec);
  TrainContext context;
  context.interrupt = request.interrupt;
  context.out = &quiet;
  context.resume = !request.resume_run_id.empty();
  outcome.result = train(setup, context);
  return outcome;
}

}  // namespace

RunOutcome run_one(const RunSpec& spec, RunRecorder& recorder, const RunRequest& request) {
  const distributed::World world = distributed::discover_world();
  if (world.distributed() && !world.is_rank0()) return run_follower_rank(spec, request, world.rank);
  RunOutcome outcome;
  const bool resume = !request.resume_run_id.empty();
  if (resume) {
    outcome.run_id = request.resume_run_id;
    outcome.run_dir = request.resume_dir;
    recorder.resume(outcome.run_id);
  } else {
    RunInfo info = make_run_info(spec, request);
    const fs::path parent = fs::absolute(request.runs_root / spec.experiment);
    info.run_dir = (parent / "{id}").string();
    outcome.run_id = recorder.begin(info);
    outcome.run_dir = parent / outcome.run_id;
    try {
      create_directories_or_throw(outcome.run_dir, "run folder");
      std::ostringstream config;
      config << "# experiment " << spec.experiment << (spec.variant.empty() ? "" : ", variant " + spec.variant)
             << ", seed " << spec.seed << ", sha256 " << spec.hash << "\n"
             << spec.canonical;
      write_file_atomically(outcome.run_dir / "config.toml", config.str(), "run config");
    } catch (const std::exception& e) {
      // Recorded already: say why it never started rather than leave it `running`.
      recorder.finish(outcome.run_id, RunStatus::Failed, e.what());
      throw;
    }
    recorder.add_artifact(outcome.run_id, (outcome.run_dir / "config.toml").string(), "config");
  }
  std::ostream& out = *request.out;
  out << (resume ? "resuming run " : "run ") << outcome.run_id << "  " << spec.experiment
      << (spec.variant.empty() ? "" : " / " + spec.variant) << "  seed " << spec.seed << "  -> "
      << outcome.run_dir.string() << "\n"
      << std::flush;
  try {
    // Per-band statistics of the training split (normalize stats = "train"): computed once into the
    // run folder, read back from there on resume, so every use of the run normalizes alike.
    ResolvedStatistics statistics = resolve_normalization_stats(spec, outcome.run_dir, request.out);
    if (statistics.computed && !statistics.file.empty())
      recorder.add_artifact(outcome.run_id, statistics.file.string(), "normalization_stats");
    const RunSpec& resolved = statistics.spec;
    TrainSetup setup = build_setup(resolved);
    TrainContext context;
    context.run_dir = outcome.run_dir;
    context.recorder = &recorder;
    context.run_id = outcome.run_id;
    context.resume = resume;
    context.interrupt = request.interrupt;
    context.out = request.out;
    context.tty = request.tty;
    context.hparams = spec.flat;
    context.hparams["seed"] = std::to_string(spec.seed);
    if (!spec.variant.empty()) context.hparams["variant"] = spec.variant;
    context.pixel_normalization = find_normalization(resolved.augment);
    outcome.result = train(setup, context);
  } catch (const std::exception& e) {
    recorder.finish(outcome.run_id, RunStatus::Failed, e.what());
    throw;
  }
  recorder.finish(outcome.run_id, outcome.result.status, outcome.result.message);
  return outcome;
}

}  // namespace xp::engine
