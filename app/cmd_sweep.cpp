// xp sweep: hyperparameter sweeps over any config key (docs/sweeps.md, docs/cluster.md).
//   xp sweep SWEEP.toml [--workers N] [--registry PATH|URL]   start a sweep
//   xp sweep SWEEP.toml --launcher slurm --parallel P [--sbatch "..."] [--wait]
//   xp sweep --resume ID [--workers N]                        continue one
//   xp sweep worker ID [--trials K]                           one worker process, on any machine
//   xp sweep status ID | report ID | list                   look at sweeps
#include <iostream>

#include "command.h"
#include "config/experiment.h"
#include "plugin_loader.h"
#include "options.h"
#include "registry_option.h"
#include "run_batch.h"
#include "run_registry.h"
#include "sql_sweep_store.h"
#include "xp/base/suggest.h"
#include "sweep_config.h"
#include "sweep_coordinator.h"
#include "sweep_report.h"
#include "sweep_report_cli.h"
#include "slurm_launcher.h"
#include "sweep_worker.h"
#include "xp/errors.h"

namespace xp::cli {
namespace {

using namespace xp::sweeps;
namespace fs = std::filesystem;

const char* kSweepUsage =
    "usage: xp sweep SWEEP.toml [--workers N] [--registry PATH|URL]\n"
    "       xp sweep SWEEP.toml --launcher slurm --parallel P [--sbatch \"--gres=gpu:1 --time=2:00:00\"] [--wait]\n"
    "       xp sweep SWEEP.toml --launcher none      (record it; start workers yourself)\n"
    "       xp sweep --resume SWEEP_ID [--workers N] [--launcher local|slurm|none] [--registry PATH|URL]\n"
    "       xp sweep status SWEEP_ID [--registry PATH|URL]\n"
    "       xp sweep report SWEEP_ID [--top N] [--best-config FILE] [--registry PATH|URL]\n"
    "       xp sweep list [--registry PATH|URL]\n"
    "       xp sweep worker SWEEP_ID [--trials K] [--registry PATH|URL]   (on any machine)\n";

void registry_option(po::options_description& desc, std::string& registry) { add_registry_option(desc, registry); }

int start(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string file, resume, registry, launcher = "local", sbatch;
  int64_t workers = 0;
  bool wait = false;
  desc.add_options()("sweep", po::value(&file), "sweep file")("workers,w", po::value(&workers),
                                                               "parallel trials (default: the file's workers)")(
      "parallel,p", po::value(&workers), "the same as --workers (Slurm's words: --array=0-N%P)")(
      "resume", po::value(&resume), "continue the sweep with this id; finished trials are not rerun")(
      "launcher", po::value(&launcher),
      "local (worker processes here, the default), slurm (one sbatch job array) or none (record the sweep; "
      "start `xp sweep worker ID` yourself)")("sbatch", po::value(&sbatch),
                                             "slurm: extra sbatch options, e.g. \"--gres=gpu:1 --time=2:00:00\"")(
      "wait", po::bool_switch(&wait), "slurm: follow the job and print trials until it leaves the queue");
  registry_option(desc, registry);
  po::positional_options_description pos;
  pos.add("sweep", 1);
  po::variables_map vm;
  if (!parse_options("xp sweep SWEEP.toml [--workers N] [--resume ID] [--launcher local|slurm|none] [--registry PATH|URL]",
                     desc, pos, args, vm))
    return kOk;
  if (launcher != "local" && launcher != "slurm" && launcher != "none")
    throw UsageError("--launcher must be local, slurm or none, not '" + launcher + "'" +
                     did_you_mean(launcher, {"local", "slurm", "none"}));
  if (vm.count("workers") && vm.count("parallel")) throw UsageError("give --workers or --parallel, not both");
  if (!sbatch.empty() && launcher != "slurm") throw UsageError("--sbatch needs --launcher slurm");
  if (file.empty() && resume.empty()) throw UsageError(std::string("name a sweep file or --resume ID\n") + kSweepUsage);
  if ((vm.count("workers") || vm.count("parallel")) && workers < 1)
    throw UsageError("--workers/--parallel must be at least 1");
  SweepOptions o;
  o.sweep_file = file;
  o.resume_id = resume;
  o.registry = registry.empty() ? default_registry_path() : fs::path(registry);
  if (vm.count("workers") || vm.count("parallel")) o.workers = workers;
  o.launcher = launcher;
  o.sbatch_args = sbatch;
  o.wait = wait;
  if (!resume.empty()) existing_registry_path(o.registry.string());
  load_plugins();
  o.check_overrides = [&](const std::vector<std::string>& sets) {
    auto config = parse_sweep_file(file);
    ExperimentOptions eo;
    eo.sets = sets;
    if (!config.variant.empty()) eo.variants = {config.variant};
    if (!config.seeds.empty()) eo.seeds = std::vector<int64_t>{config.seeds.front()};
    PluginLoader loader;
    try {
      resolve_experiment(config.experiment, eo, loader);
    } catch (const ConfigError& e) {
      throw ConfigError(std::string(e.what()) + "\n  (while checking the overrides of sweep " + file + ")");
    }
  };
  return run_sweep(o, std::cout);
}

int worker(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string id, registry, name;
  WorkerOptions o;
  desc.add_options()("id", po::value(&id)->required(), "sweep id")("name", po::value(&name),
                                                                   "worker name (default host:pid)")(
      "trials", po::value(&o.max_trials), "leave after this many trials (default: while there is work)")(
      "idle-wait", po::value(&o.idle_wait_seconds),
      "with nothing to claim, wait at most this many seconds for other workers' trials to finish or come back "
      "(default: as long as any runs)");
  registry_option(desc, registry);
  po::positional_options_description pos;
  pos.add("id", 1);
  po::variables_map vm;
  if (!parse_options("xp sweep worker SWEEP_ID [--trials K] [--registry PATH|URL]", desc, pos, args, vm)) return kOk;
  if (o.max_trials < 0) throw UsageError("--trials must be >= 0");
  o.registry = existing_registry_path(registry);
  o.sweep_id = id;
  o.name = name;
  return run_worker(o, std::cout);
}

int status(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string id, registry;
  desc.add_options()("id", po::value(&id)->required(), "sweep id");
  registry_option(desc, registry);
  po::positional_options_description pos;
  pos.add("id", 1);
  po::variables_map vm;
  if (!parse_options("xp sweep status SWEEP_ID [--registry PATH]", desc, pos, args, vm)) return kOk;
  auto path = existing_registry_path(registry);
  SqlSweepStore store(path);
  auto [sweep, config] = load_sweep(store, id, path);
  auto trials = store.trials(id);
  std::cout << "sweep " << sweep.id << " (" << sweep_state_name(sweep.state) << "): " << sweep.method << " on "
            << sweep.experiment << (sweep.variant.empty() ? "" : " [" + sweep.variant + "]") << "\n"
            << "  objective: " << direction_name(sweep.direction) << " " << sweep.metric << "\n"
            << "  trials: " << state_counts(trials);
  if (sweep.max_trials) std::cout << " of " << *sweep.max_trials;
  std::cout << "\n";
  for (const auto& t : trials)
    if (t.state == TrialState::Running) {
      std::cout << "  running: trial " << t.number << " on " << t.worker << " (attempt " << t.attempts << ")";
      if (!t.intermediate.empty())
        std::cout << ", epoch " << t.intermediate.rbegin()->first << " " << config.pruner.metric << " = "
                  << Value(t.intermediate.rbegin()->second).to_string();
      std::cout << "\n";
    }
  for (const auto& job : store.jobs(id)) {
    std::cout << "  " << job.launcher << " job " << job.job_id << ": " << job.tasks << " task(s), " << job.parallel
              << " at a time";
    try {
      auto q = slurm_queue(job.job_id);
      std::cout << "; queued " << q.pending << ", running " << q.running;
      if (q.empty()) std::cout << " (left the queue)";
    } catch (const std::exception&) {
      std::cout << " (squeue unavailable here)";
    }
    std::cout << "\n";
  }
  if (auto best = best_trial(trials, sweep.direction))
    std::cout << "  best so far: trial " << best->number << " " << sweep.metric << " = "
              << Value(*best->value).to_string() << "\n";
  return kOk;
}

int report(const std::vector<std::string>& args) {
  po::options_description desc("options");
  SweepReportRequest request;
  desc.add_options()("id", po::value(&request.id)->required(), "sweep id")(
      "top", po::value(&request.top), "show only the N best trials")(
      "best-config", po::value(&request.best_config), "also write the best configuration to this file");
  registry_option(desc, request.registry);
  po::positional_options_description pos;
  pos.add("id", 1);
  po::variables_map vm;
  if (!parse_options("xp sweep report SWEEP_ID [--top N] [--best-config FILE] [--registry PATH]", desc, pos, args, vm))
    return kOk;
  return report_sweep(request, std::cout);  // the same report as `xp report --sweep ID`
}

int list(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string registry;
  registry_option(desc, registry);
  po::variables_map vm;
  if (!parse_options("xp sweep list [--registry PATH]", desc, {}, args, vm)) return kOk;
  auto path = existing_registry_path(registry);
  SqlSweepStore store(path);
  for (const auto& s : store.list_sweeps()) {
    if (s.method == kRunBatchMethod) continue;  // `xp run --launcher slurm` batches: xp runs shows them
    auto trials = store.trials(s.id);
    std::cout << s.id << "  " << sweep_state_name(s.state) << "  " << s.method << "  "
              << fs::path(s.experiment).filename().string() << (s.variant.empty() ? "" : "[" + s.variant + "]") << "  "
              << state_counts(trials);
    if (auto best = best_trial(trials, s.direction))
      std::cout << "  best " << s.metric << " = " << Value(*best->value).to_string();
    std::cout << "\n";
  }
  return kOk;
}

int sweep(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::cout << kSweepUsage;
    return kUsage;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "--help" || args[0] == "-h") {
    std::cout << kSweepUsage;
    return kOk;
  }
  if (args[0] == "worker") return worker(rest);
  if (args[0] == "status") return status(rest);
  if (args[0] == "report") return report(rest);
  if (args[0] == "list") return list(rest);
  if (args[0].find('.') == std::string::npos && args[0][0] != '-' && !fs::exists(args[0]))
    throw UsageError("unknown subcommand 'sweep " + args[0] + "'" +
                     did_you_mean(args[0], {"worker", "status", "report", "list"}) + "\n" + kSweepUsage);
  return start(args);
}

}  // namespace

XP_CLI_COMMAND("sweep", "hyperparameter sweeps: grid, random or TPE search with pruning", sweep);

}  // namespace xp::cli
