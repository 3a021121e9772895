// xp run: train every (variant, seed) run of an experiment in turn, recording each in the
// registry, or continue an interrupted run with --resume.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "command.h"
#include "config/experiment.h"
#include "distributed/launcher.h"
#include "engine/experiment_runner.h"
#include "options.h"
#include "plugin_loader.h"
#include "run_registry.h"
#include "xp/errors.h"

namespace xp::cli {
namespace {

std::atomic<bool> g_interrupted{false};

extern "C" void on_sigint(int) {
  // First Ctrl-C: finish the current step, save, mark interrupted. A second one kills at once.
  g_interrupted.store(true);
  std::signal(SIGINT, SIG_DFL);
}

// `--nproc-per-node N`: the same command line without the option, once per rank, watched until all end.
int launch_ranks(const std::vector<std::string>& args, int nproc) {
  distributed::LaunchOptions launch;
  launch.nproc = nproc;
  launch.program = distributed::current_executable();
  launch.args = {"run"};
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--nproc-per-node") {
      ++i;
      continue;
    }
    if (args[i].rfind("--nproc-per-node=", 0) == 0) continue;
    launch.args.push_back(args[i]);
  }
  const auto result = distributed::launch_local_ranks(launch);
  if (result.first_failed_rank >= 0) {
    std::cerr << "error: " << result.message << "; the other ranks were stopped\n";
    return result.exit_code ? result.exit_code : kRunFailed;
  }
  return kOk;
}

int run(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string file, seeds, registry_option, resume;
  int nproc_per_node = 0;
  desc.add_options()("experiment", po::value(&file), "experiment TOML file (optional with --resume)")(
      "set", po::value<std::vector<std::string>>()->composing(), "override KEY=VALUE (repeatable), e.g. train.epochs=5")(
      "variant", po::value<std::vector<std::string>>()->composing(), "only this variant (repeatable)")(
      "seeds", po::value(&seeds), "replace [experiment] seeds, e.g. 1,2,3")(
      "registry", po::value(&registry_option), "run registry (default $XP_REGISTRY or xp-runs/registry.db)")(
      "resume", po::value(&resume), "continue an interrupted run: its id (or unique prefix) or its folder")(
      "tag", po::value<std::vector<std::string>>()->composing(), "record KEY=VALUE (or KEY) as a tag of every run (repeatable)")(
      "plugin-path", po::value<std::vector<std::string>>()->composing(), "extra plugin library or folder")(
      "nproc-per-node", po::value(&nproc_per_node),
      "data-parallel: start N ranks of this run on this machine (one per GPU, or N CPU processes over Gloo); "
      "see [train] distributed");
  po::positional_options_description pos;
  pos.add("experiment", 1);
  po::variables_map vm;
  const std::string usage =
      "xp run EXPERIMENT.toml [--set K=V ...] [--variant V ...] [--seeds 1,2] [--tag K=V ...] [--registry PATH]\n"
      "       xp run --resume RUN_ID_OR_DIR [EXPERIMENT.toml]\n"
      "       xp run EXPERIMENT.toml --nproc-per-node N   (data-parallel; or under torchrun / srun)";
  if (!parse_options(usage, desc, pos, args, vm)) return kOk;

  if (vm.count("nproc-per-node") && nproc_per_node < 1) throw ConfigError("--nproc-per-node must be >= 1");
  ExperimentOptions options;
  if (vm.count("set")) options.sets = vm["set"].as<std::vector<std::string>>();
  if (vm.count("variant")) options.variants = vm["variant"].as<std::vector<std::string>>();
  if (!seeds.empty()) options.seeds = parse_seed_list(seeds);
  if (file.empty() && resume.empty())
    throw ConfigError("xp run needs an experiment file (or --resume RUN to continue a run); see xp run --help");
  if (file.empty() && (!options.sets.empty() || !options.variants.empty() || options.seeds))
    throw ConfigError("--set, --variant and --seeds change an experiment; a resumed run keeps its recorded config");
  load_plugins(vm.count("plugin-path") ? vm["plugin-path"].as<std::vector<std::string>>() : std::vector<std::string>{});
  PluginLoader loader;
  std::vector<RunSpec> specs;
  if (!file.empty()) {
    specs = resolve_experiment(file, options, loader);
    if (specs.empty()) throw ConfigError(file + ": the experiment describes no runs");
  }

  if (vm.count("nproc-per-node")) {
    if (std::getenv("XP_LAUNCHED") || std::getenv("RANK"))
      throw ConfigError("--nproc-per-node inside a launched rank (RANK is set): start xp run once, without a launcher, "
                        "or let the launcher (torchrun, srun) start the ranks");
    return launch_ranks(args, nproc_per_node);
  }

  const std::filesystem::path registry_path =
      registry_option.empty() ? default_registry_path() : std::filesystem::path(registry_option);
  auto registry = open_run_registry(registry_path);
  // A run left `running` by a process that died (kill -9, power loss) becomes `crashed`, so that
  // --resume accepts it and reports do not count it as in progress.
  for (const auto& id : registry->mark_stale_runs_crashed())
    std::cerr << "note: run " << id << " stopped without finishing; marked crashed (resume with --resume " << id
              << ")\n";

  std::string command_line = "xp run";
  for (const auto& a : args) command_line += " " + a;
  engine::RunRequest request;
  request.runs_root = std::filesystem::absolute(registry_path).parent_path();
  request.command_line = command_line;
  request.interrupt = &g_interrupted;
  request.tty = ::isatty(STDOUT_FILENO) != 0;
  if (vm.count("tag"))
    for (const auto& t : vm["tag"].as<std::vector<std::string>>()) {
      const auto eq = t.find('=');
      const std::string key = t.substr(0, eq);
      if (key.empty()) throw ConfigError("--tag " + t + ": expected KEY=VALUE or KEY");
      request.tags[key] = eq == std::string::npos ? "" : t.substr(eq + 1);
    }

  if (!resume.empty()) {
    RunRecord record = registry->find_run(resume);
    if (specs.empty()) {
      // No experiment file: the run's own resolved config is the source of truth.
      const auto config_file = std::filesystem::path(record.info.run_dir) / "config.toml";
      specs = {resolve_recorded_run(config_file, loader)};
      file = config_file.string();
    }
    const RunSpec* match = nullptr;
    for (const auto& s : specs)
      if (s.hash == record.info.config_hash) match = &s;
    if (!match)
      throw ConfigError("cannot resume run " + record.id + ": none of the " + std::to_string(specs.size()) +
                        " runs of " + file + " (with these --set/--variant/--seeds) has its configuration (sha256 " +
                        record.info.config_hash.substr(0, 12) + "); the experiment file changed since, or pass the "
                        "same --set options as the original run");
    if (record.status == RunStatus::Finished)
      throw ConfigError("run " + record.id + " has already finished; nothing to resume");
    specs = {*match};
    request.resume_run_id = record.id;
    request.resume_dir = record.info.run_dir;
  }

  std::signal(SIGINT, on_sigint);
  int failed = 0;
  for (const auto& spec : specs) {
    if (g_interrupted) break;
    if (!spec.output.empty() && resume.empty()) request.runs_root = std::filesystem::absolute(spec.output);
    engine::RunOutcome outcome;
    try {
      outcome = engine::run_one(spec, *registry, request);
    } catch (const ConfigError&) {
      throw;  // the whole experiment is misconfigured: exit 2
    } catch (const std::exception& e) {
      std::cerr << "error: run failed: " << e.what() << "\n";
      ++failed;
      continue;
    }
    const auto& r = outcome.result;
    // The epoch and test lines above carry the numbers; this line says where to find all of them.
    std::cout << "run " << outcome.run_id << " " << run_status_names()[static_cast<size_t>(r.status)];
    for (const auto& [k, v] : r.summary)
      if (k.rfind("best_", 0) == 0) std::cout << "  " << k << " " << v;
    std::cout << "  (all metrics: xp show " << outcome.run_id << ")\n";
    if (r.status == RunStatus::Interrupted) {
      std::cout << "interrupted; continue with: xp run --resume " << outcome.run_id << "\n";
      return kInterrupted;
    }
    if (r.status != RunStatus::Finished) {
      std::cerr << "error: " << r.message << "\n";
      ++failed;
    }
  }
  registry->flush();
  if (g_interrupted) return kInterrupted;
  return failed ? kRunFailed : kOk;
}

}  // namespace

XP_CLI_COMMAND("run", "train the runs of an experiment (or --resume one), recording them in the registry", run);

}  // namespace xp::cli
