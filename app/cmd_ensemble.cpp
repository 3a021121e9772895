// xp ensemble ARG...: averages the test-set probabilities of finished runs (seeds of a variant,
// architectures, image sizes), scores every member and the ensemble side by side, and records the
// ensemble as a run whose members the registry can list.
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include <torch/version.h>

#include "command.h"
#include "xp/base/toml_writer.h"
#include "config/experiment.h"
#include "ensemble_members.h"
#include "eval/ensemble.h"
#include "eval/tta.h"
#include "options.h"
#include "plugin_loader.h"
#include "run_json.h"
#include "run_registry.h"
#include "xp/base/suggest.h"
#include "text_table.h"
#include "xp/base/sha256.h"
#include "xp/base/atomic_file.h"
#include "xp/errors.h"
#include "xp/version.h"

namespace xp::cli {
namespace {

namespace fs = std::filesystem;

struct Selection {
  std::vector<std::string> variants;
  std::string where;
};

bool looks_like_experiment_file(const std::string& arg) {
  std::error_code ec;
  return fs::path(arg).extension() == ".toml" && fs::is_regular_file(arg, ec);
}

// The finished runs of an experiment (not earlier ensembles of it), oldest first.
std::vector<RunRecord> experiment_runs(RunRegistry& registry, const std::string& experiment, const Selection& sel) {
  RunQuery q;
  q.experiment = experiment;
  q.where = sel.where;
  q.statuses = {"finished"};
  q.sort = "start";
  std::vector<RunRecord> runs;
  std::set<std::string> variants_seen;
  for (auto& r : registry.list_runs(q)) {
    if (registry::is_ensemble(r)) continue;
    variants_seen.insert(r.info.variant);
    if (!sel.variants.empty() && std::find(sel.variants.begin(), sel.variants.end(), r.info.variant) == sel.variants.end())
      continue;
    runs.push_back(std::move(r));
  }
  for (const auto& v : sel.variants)
    if (!variants_seen.count(v))
      throw ConfigError("experiment '" + experiment + "' has no finished runs of variant '" + v + "'" +
                        did_you_mean(v, std::vector<std::string>(variants_seen.begin(), variants_seen.end())));
  if (runs.empty())
    throw ConfigError("experiment '" + experiment + "' has no finished runs" +
                      (sel.where.empty() && sel.variants.empty() ? "" : " matching --variant/--where"));
  return runs;
}

// ARG: an experiment file, an experiment name, or a run (id, unique prefix, folder).
std::vector<RunRecord> resolve_argument(RunRegistry& registry, const std::string& arg, const Selection& sel,
                                        PluginLoader& loader, bool& named_experiment) {
  if (looks_like_experiment_file(arg)) {
    named_experiment = true;
    ExperimentOptions options;
    options.variants = sel.variants;
    auto specs = resolve_experiment(arg, options, loader);
    if (specs.empty()) throw ConfigError(arg + ": the experiment describes no runs");
    return experiment_runs(registry, specs.front().experiment, sel);
  }
  const auto experiments = registry.experiments();
  if (std::find(experiments.begin(), experiments.end(), arg) != experiments.end()) {
    named_experiment = true;
    return experiment_runs(registry, arg, sel);
  }
  try {
    return {registry.find_run(arg)};
  } catch (const ConfigError& e) {
    if (std::string(e.what()).find("ambiguous") != std::string::npos) throw;
    std::vector<std::string> names = experiments;
    for (const auto& r : registry.list_runs(RunQuery{})) names.push_back(r.id);
    throw ConfigError("no run or experiment '" + arg + "' in " + registry.path().string() + did_you_mean(arg, names));
  }
}

void check_member(const RunRecord& run, const std::string& checkpoint) {
  if (registry::is_ensemble(run))
    throw ConfigError("run " + run.id + " is itself an ensemble (of " + registry::join_members(registry::ensemble_members(run)) +
                      "); name its members instead");
  if (run.status != RunStatus::Finished)
    throw ConfigError("run " + run.id + " has status " + run_status_name(run.status) +
                      ", not finished; only finished runs can be ensemble members");
  const fs::path file = fs::path(run.info.run_dir) / "checkpoints" / (checkpoint + ".pt");
  std::error_code ec;
  if (!fs::is_regular_file(file, ec))
    throw ConfigError("run " + run.id + " has no checkpoint " + file.string() +
                      (checkpoint == "best" ? " (try --checkpoint last)" : ""));
}

std::vector<double> parse_weights(const std::string& text, size_t members) {
  std::vector<double> weights;
  if (text.empty()) return std::vector<double>(members, 1.0);
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      double w = std::stod(item, &used);
      if (used != item.size() || !(w >= 0)) throw std::invalid_argument(item);
      weights.push_back(w);
    } catch (const std::exception&) {
      throw UsageError("--weights expects non-negative numbers separated by commas, e.g. --weights 1,2; got '" + text + "'");
    }
  }
  if (weights.size() != members)
    throw UsageError("--weights has " + std::to_string(weights.size()) + " values for " + std::to_string(members) +
                     " members (in the order the table lists them)");
  return weights;
}

std::string format_metric(const std::map<std::string, double>& values, const std::string& name) {
  auto it = values.find(name);
  return it == values.end() ? "-" : registry::format_value(it->second, 4);
}

int ensemble(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string tta = "none", checkpoint = "best", name, registry_option, weights_text;
  Selection sel;
  desc.add_options()("runs", po::value<std::vector<std::string>>()->composing(),
                     "run ids (or unique prefixes, or run folders), experiment names or experiment files")(
      "tta", po::value(&tta), "test-time augmentation: none, hflip, flips, multiscale, five_crop (default none)")(
      "checkpoint", po::value(&checkpoint), "weights of each member: best (default) or last")(
      "variant", po::value<std::vector<std::string>>(&sel.variants)->composing(),
      "with an experiment: only runs of this variant (repeatable)")(
      "where,w", po::value(&sel.where), "with an experiment: only runs matching this filter (xp runs --where syntax)")(
      "weights", po::value(&weights_text), "weight per member, comma-separated, in table order (default: equal)")(
      "name", po::value(&name), "variant name the ensemble is recorded under (default 'ensemble')")(
      "json", "print the result as JSON")(
      "no-record", "do not record the ensemble in the registry")(
      "registry", po::value(&registry_option), "registry file (default $XP_REGISTRY or ./xp-runs/registry.db)")(
      "plugin-path", po::value<std::vector<std::string>>()->composing(), "extra plugin library or folder");
  po::positional_options_description pos;
  pos.add("runs", -1);
  po::variables_map vm;
  const std::string usage =
      "xp ensemble RUN_OR_EXPERIMENT... [--tta MODE] [--checkpoint best|last] [--variant V] [--where EXPR]\n"
      "            [--weights W,...] [--name NAME] [--json] [--no-record] [--registry PATH]";
  if (!parse_options(usage, desc, pos, args, vm)) return kOk;
  if (!vm.count("runs")) throw UsageError("name the runs or the experiment to ensemble\nusage: " + usage);
  if (std::find(tta_modes().begin(), tta_modes().end(), tta) == tta_modes().end()) {
    std::string modes;
    for (const auto& m : tta_modes()) modes += (modes.empty() ? "" : ", ") + m;
    throw UsageError("--tta: unknown mode '" + tta + "'" + did_you_mean(tta, tta_modes()) + " (modes: " + modes + ")");
  }
  if (checkpoint != "best" && checkpoint != "last")
    throw UsageError("--checkpoint must be best or last, not '" + checkpoint + "'" +
                     did_you_mean(checkpoint, {"best", "last"}));
  const bool json = vm.count("json") > 0;
  std::ostream& progress = json ? std::cerr : std::cout;

  load_plugins(vm.count("plugin-path") ? vm["plugin-path"].as<std::vector<std::string>>() : std::vector<std::string>{});
  PluginLoader loader;
  const fs::path registry_path = existing_registry_path(registry_option);
  RunRegistry registry(registry_path);
  registry.mark_stale_runs_crashed();

  std::vector<RunRecord> runs;
  bool any_experiment = false;
  for (const auto& arg : vm["runs"].as<std::vector<std::string>>()) {
    auto found = resolve_argument(registry, arg, sel, loader, any_experiment);
    for (auto& r : found) {
      check_member(r, checkpoint);
      // list_runs leaves params and config out; the recorded run (get_run) has them.
      runs.push_back(*registry.get_run(r.id));
    }
  }
  if (!any_experiment && (!sel.variants.empty() || !sel.where.empty()))
    throw UsageError("--variant and --where select runs of an experiment; none of the arguments names one");
  const auto weights = parse_weights(weights_text, runs.size());

  std::vector<EnsembleMember> members;
  for (size_t i = 0; i < runs.size(); ++i) members.push_back({runs[i].id, runs[i].info.run_dir, weights[i]});
  EnsembleOptions options;
  options.tta = tta;
  options.checkpoint = checkpoint;
  options.out = &progress;
  const EnsembleScores scores = evaluate_ensemble(members, options, loader);

  std::set<std::string> experiments;
  std::vector<std::string> ids;
  for (const auto& r : runs) {
    experiments.insert(r.info.experiment);
    ids.push_back(r.id);
  }
  const std::string experiment = experiments.size() == 1 ? *experiments.begin() : "ensemble";
  std::string ensemble_id;
  fs::path ensemble_dir;
  if (!vm.count("no-record")) {
    // The ensemble's "config": what was averaged and how. Its hash identifies the same ensemble.
    Value::List member_list, weight_list;
    for (const auto& id : ids) member_list.emplace_back(id);
    for (double w : weights) weight_list.emplace_back(w);
    Value::Table description = {{"ensemble", Value(Value::Table{{"members", Value(member_list)},
                                                           {"weights", Value(weight_list)},
                                                           {"tta", Value(tta)},
                                                           {"checkpoint", Value(checkpoint)},
                                                           {"split", Value("test")}})}};
    RunInfo info;
    info.experiment = experiment;
    info.variant = name.empty() ? "ensemble" : name;
    info.config_text = config::canonical_toml(description);
    info.config_hash = sha256_hex(info.config_text);
    info.params = config::flatten(description);
    info.params["ensemble.size"] = std::to_string(ids.size());
    info.command_line = "xp ensemble";
    for (const auto& a : args) info.command_line += " " + a;
    info.pid = ::getpid();
    info.xp_version = XP_VERSION_STRING;
    info.torch_version = std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
                         std::to_string(TORCH_VERSION_PATCH);
    info.tags[registry::kEnsembleOfTag] = registry::join_members(ids);
    info.run_dir = (default_run_root(registry_path) / experiment / "{id}").string();
    ensemble_id = registry.begin(info);
    ensemble_dir = registry.get_run(ensemble_id)->info.run_dir;
    create_directories_or_throw(ensemble_dir, "ensemble folder");
    write_file_atomically(ensemble_dir / "config.toml",
                          "# ensemble of " + std::to_string(ids.size()) + " runs\n" + info.config_text, "ensemble config");
    {
      registry::TextTable t([&] {
        std::vector<std::string> h = {"id", "experiment", "variant", "seed", "weight", "run_dir"};
        h.insert(h.end(), scores.metric_names.begin(), scores.metric_names.end());
        return h;
      }());
      for (size_t i = 0; i < runs.size(); ++i) {
        std::vector<std::string> row = {runs[i].id, runs[i].info.experiment, runs[i].info.variant,
                                        std::to_string(runs[i].info.seed), registry::format_value(weights[i], 10),
                                        runs[i].info.run_dir};
        for (const auto& m : scores.metric_names) row.push_back(registry::format_value(scores.members[i].at(m), 10));
        t.add_row(row);
      }
      write_file_atomically(ensemble_dir / "members.csv", t.csv(), "ensemble members table");
    }
    registry.add_artifact(ensemble_id, (ensemble_dir / "config.toml").string(), "config");
    registry.add_artifact(ensemble_id, (ensemble_dir / "members.csv").string(), "members");
    // The metric plugins' values first: `xp report` defaults to an experiment's first summary value.
    std::map<std::string, double> plugin_values = scores.ensemble, nll;
    if (auto it = plugin_values.find("test_nll"); it != plugin_values.end()) {
      nll.insert(*it);
      plugin_values.erase(it);
    }
    registry.set_summary(ensemble_id, plugin_values);
    if (!nll.empty()) registry.set_summary(ensemble_id, nll);
    registry.finish(ensemble_id, RunStatus::Finished);
  }

  if (json) {
    nlohmann::json out;
    out["id"] = ensemble_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(ensemble_id);
    out["experiment"] = experiment;
    out["tta"] = tta;
    out["checkpoint"] = checkpoint;
    out["samples"] = scores.samples;
    out["skipped"] = scores.skipped;
    out["classes"] = scores.classes;
    nlohmann::json list = nlohmann::json::array();
    for (size_t i = 0; i < runs.size(); ++i) {
      nlohmann::json m = nlohmann::json::object();
      for (const auto& [k, v] : scores.members[i]) m[k] = registry::json_number(v);
      list.push_back({{"id", runs[i].id}, {"experiment", runs[i].info.experiment}, {"variant", runs[i].info.variant},
                      {"seed", runs[i].info.seed}, {"weight", weights[i]}, {"metrics", m}});
    }
    out["members"] = list;
    nlohmann::json e = nlohmann::json::object();
    for (const auto& [k, v] : scores.ensemble) e[k] = registry::json_number(v);
    out["metrics"] = e;
    std::cout << out.dump(2) << "\n";
    return kOk;
  }

  const bool weighted = std::any_of(weights.begin(), weights.end(), [](double w) { return w != 1.0; });
  std::vector<std::string> header = {"run", "experiment", "variant", "seed"};
  if (weighted) header.push_back("weight");
  header.insert(header.end(), scores.metric_names.begin(), scores.metric_names.end());
  registry::TextTable table(header);
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& r = runs[i];
    std::vector<std::string> row = {r.id, r.info.experiment, r.info.variant.empty() ? "-" : r.info.variant,
                                    std::to_string(r.info.seed)};
    if (weighted) row.push_back(registry::format_value(weights[i]));
    for (const auto& m : scores.metric_names) row.push_back(format_metric(scores.members[i], m));
    table.add_row(row);
  }
  std::vector<std::string> row = {"ensemble", experiment, name.empty() ? "ensemble" : name, "-"};
  if (weighted) row.push_back("-");
  for (const auto& m : scores.metric_names) row.push_back(format_metric(scores.ensemble, m));
  table.add_row(row);
  std::cout << "\nensemble of " << runs.size() << " run" << (runs.size() == 1 ? "" : "s") << " on " << scores.samples
            << " test samples (" << scores.classes << " classes), " << checkpoint << ".pt, tta " << tta;
  if (scores.skipped) std::cout << "; " << scores.skipped << " samples left out (some member could not load them)";
  std::cout << "\n" << table.text();
  if (!ensemble_id.empty())
    std::cout << "recorded as run " << ensemble_id << " (" << experiment << " / " << (name.empty() ? "ensemble" : name)
              << "; xp show " << ensemble_id << ")\n";
  return kOk;
}

}  // namespace

XP_CLI_COMMAND("ensemble", "average the test predictions of finished runs (with TTA) and record the ensemble",
               ensemble);

}  // namespace xp::cli
