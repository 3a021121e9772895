// xp run: train every (variant, seed) run of an experiment in turn, recording each in the
// registry, or continue an interrupted run with --resume.
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "command.h"
#include "config/dry_build.h"
#include "config/experiment.h"
#include "distributed/launcher.h"
#include "distributed/world.h"
#include "engine/experiment_runner.h"
#include "options.h"
#include "plugin_loader.h"
#include "preemption.h"
#include "run_on_slurm.h"
#include "run_registry.h"
#include "text_table.h"
#include "xp/base/suggest.h"
#include "xp/errors.h"

namespace xp::cli {
namespace {

bool requeue_requested(const po::variables_map& vm) {
  if (vm.count("requeue-on-term")) return true;
  const char* env = std::getenv("XP_REQUEUE");
  return env && *env && std::string(env) != "0";
}

// One line of the table a multi-run `xp run` ends with.
struct RunSummaryRow {
  std::string id, variant;
  int64_t seed = 0;
  std::string status;
  std::map<std::string, double> summary;
  std::string message;
};

RunSummaryRow summary_row(const RunSpec& spec, const engine::RunOutcome& outcome) {
  return {outcome.run_id, spec.variant, spec.seed,
          run_status_names()[static_cast<size_t>(outcome.result.status)], outcome.result.summary,
          outcome.result.message};
}

// The metric a reader compares runs by: the checkpoint monitor's best value, and the test metric
// of the same name when the runs were tested.
std::pair<std::string, std::string> main_metrics(const RunSpec& spec) {
  const std::string monitor = spec.train.get_section("checkpoint").get_string("monitor");
  std::string test = monitor;
  if (test.rfind("val_", 0) == 0) test = "test_" + test.substr(4);
  return {"best_" + monitor, test == monitor ? "" : test};
}

// After several runs: a table of them (status and main metric) and the command that compares them.
void print_summary(const std::vector<RunSummaryRow>& rows, const std::vector<RunSpec>& specs, std::ostream& out) {
  if (rows.size() < 2 || specs.empty()) return;
  const auto [best, test] = main_metrics(specs.front());
  bool has_test = false;
  for (const auto& r : rows) has_test |= !test.empty() && r.summary.count(test);
  std::vector<std::string> header = {"run", "variant", "seed", "status", best};
  if (has_test) header.push_back(test);
  registry::TextTable table(header);
  size_t ok = 0;
  for (const auto& r : rows) {
    ok += r.status == "finished";
    auto value = [&](const std::string& k) -> std::optional<double> {
      auto it = r.summary.find(k);
      if (it == r.summary.end()) return std::nullopt;
      return it->second;
    };
    std::vector<std::string> row = {r.id, r.variant.empty() ? "-" : r.variant, std::to_string(r.seed), r.status,
                                    registry::format_value(value(best))};
    if (has_test) row.push_back(registry::format_value(value(test)));
    table.add_row(row);
  }
  out << "\n" << rows.size() << " runs of " << specs.front().experiment << ": " << ok << " finished\n"
      << table.text();
  std::set<std::string> variants;
  for (const auto& r : rows) variants.insert(r.variant);
  const RunSpec& spec = specs.front();
  const std::string metric = !spec.report_metric.empty() ? spec.report_metric : has_test ? test : best.substr(5);
  if (variants.size() > 1)
    out << "compare the variants: xp report " << spec.experiment << " --metric " << metric
        << (spec.baseline.empty() ? "" : " --baseline " + spec.baseline) << "\n";
  else
    out << "see them: xp runs --experiment " << specs.front().experiment << "\n";
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
  std::string file, seeds, registry_option, resume, launcher = "local", sbatch, lease_from;
  int nproc_per_node = 0;
  int64_t parallel = 0;
  desc.add_options()("experiment", po::value(&file), "experiment TOML file (optional with --resume)")(
      "set", po::value<std::vector<std::string>>()->composing(), "override KEY=VALUE (repeatable), e.g. train.epochs=5")(
      "variant", po::value<std::vector<std::string>>()->composing(), "only this variant (repeatable)")(
      "seeds", po::value(&seeds), "replace [experiment] seeds, e.g. 1,2,3")(
      "registry", po::value(&registry_option), "run registry (default $XP_REGISTRY or xp-runs/registry.db)")(
      "resume", po::value(&resume), "continue an interrupted run: its id (or unique prefix) or its folder")(
      "tag", po::value<std::vector<std::string>>()->composing(), "record KEY=VALUE (or KEY) as a tag of every run (repeatable)")(
      "requeue-on-term", "under Slurm: on SIGTERM save, ask `scontrol requeue`, and resume the same run when the "
                         "job restarts (also XP_REQUEUE=1)")(
      "plugin-path", po::value<std::vector<std::string>>()->composing(), "extra plugin library or folder")(
      "no-dry-build", "skip the dry build (one CPU batch per variant) that checks the experiment before any run "
                      "is recorded")(
      "nproc-per-node", po::value(&nproc_per_node),
      "data-parallel: start N ranks of this run on this machine (one per GPU, or N CPU processes over Gloo); "
      "see [train] distributed")(
      "launcher", po::value(&launcher),
      "local (train the runs here, one after another; the default) or slurm (one sbatch job array, a task per "
      "variant x seed, each leasing its run from the registry; docs/cluster.md)")(
      "parallel", po::value(&parallel), "slurm: at most P array tasks at once (--array=0-N%P; default all)")(
      "sbatch", po::value(&sbatch), "slurm: extra sbatch options, e.g. \"--gres=gpu:1 --time=2:00:00\"")(
      "wait", "slurm: follow the job and print the runs' counts until it leaves the queue")(
      "lease-from", po::value(&lease_from), "(what a Slurm array task runs) lease one planned run of this batch and "
                                            "train it");
  po::positional_options_description pos;
  pos.add("experiment", 1);
  po::variables_map vm;
  const std::string usage =
      "xp run EXPERIMENT.toml [--set K=V ...] [--variant V ...] [--seeds 1,2] [--tag K=V ...] [--registry PATH]\n"
      "       xp run --resume RUN_ID_OR_DIR [EXPERIMENT.toml]\n"
      "       xp run EXPERIMENT.toml --nproc-per-node N   (data-parallel; or under torchrun / srun)\n"
      "       xp run EXPERIMENT.toml --launcher slurm [--parallel P] [--sbatch \"...\"] [--wait]\n"
      "exit codes: 0 all runs finished, 1 a run failed, 2 configuration error, 130 interrupted (SIGINT),\n"
      "            143 stopped by SIGTERM (checkpoint written, run resumable)";
  if (!parse_options(usage, desc, pos, args, vm)) return kOk;

  if (vm.count("nproc-per-node") && nproc_per_node < 1) throw ConfigError("--nproc-per-node must be >= 1");
  if (launcher != "local" && launcher != "slurm")
    throw UsageError("--launcher must be local or slurm, not '" + launcher + "'" +
                     did_you_mean(launcher, {"local", "slurm"}));
  const bool on_slurm = launcher == "slurm" || !lease_from.empty();
  if (launcher != "slurm" && (vm.count("parallel") || vm.count("sbatch") || vm.count("wait")))
    throw UsageError("--parallel, --sbatch and --wait need --launcher slurm");
  if (vm.count("parallel") && parallel < 1) throw UsageError("--parallel must be at least 1");
  if (on_slurm && (!resume.empty() || vm.count("nproc-per-node") || vm.count("requeue-on-term")))
    throw UsageError("--launcher slurm takes no --resume, --nproc-per-node or --requeue-on-term: every array task "
                     "leases its run from the registry, and a requeued task continues an interrupted run itself");
  if (on_slurm && file.empty()) throw UsageError("--launcher slurm needs the experiment file");
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
    std::vector<std::string> notes;
    options.notes = &notes;
    specs = resolve_experiment(file, options, loader);
    for (const auto& n : notes) std::cerr << "note: " << n << "\n";
    if (specs.empty()) throw ConfigError(file + ": the experiment describes no runs");
    // Everything `xp validate` finds is found here too, before a run is recorded: a misconfigured
    // experiment leaves no `failed` rows behind.
    // An array task skips it: the submission did it.
    if (resume.empty() && lease_from.empty() && !vm.count("no-dry-build")) config::dry_build_runs(specs);
  }

  if (vm.count("nproc-per-node")) {
    if (std::getenv("XP_LAUNCHED") || std::getenv("RANK"))
      throw ConfigError("--nproc-per-node inside a launched rank (RANK is set): start xp run once, without a launcher, "
                        "or let the launcher (torchrun, srun) start the ranks");
    return launch_ranks(args, nproc_per_node);
  }

  // Ranks other than 0 of a data-parallel run train their share silently: rank 0 speaks for the
  // run (its id, epochs, summary); their errors still reach stderr.
  struct MuteStdout {
    std::streambuf* saved = nullptr;
    explicit MuteStdout(bool mute) {
      if (mute) saved = std::cout.rdbuf(nullptr);
    }
    ~MuteStdout() {
      if (saved) {
        std::cout.rdbuf(saved);
        std::cout.clear();
      }
    }
  };
  const distributed::World world = distributed::discover_world();
  const MuteStdout mute(world.distributed() && !world.is_rank0());

  const std::filesystem::path registry_path =
      registry_option.empty() ? default_registry_path() : std::filesystem::path(registry_option);
  if (on_slurm) {
    SlurmRunOptions slurm{file, registry_path, parallel, sbatch, vm.count("wait") > 0};
    return lease_from.empty() ? submit_runs_on_slurm(specs, vm, slurm) : run_leased_run(specs, vm, slurm, lease_from);
  }
  auto registry = open_run_registry(registry_path);
  // A run left `running` by a process that died (kill -9, power loss) becomes `crashed`, so that
  // --resume accepts it and reports do not count it as in progress.
  for (const auto& id : registry->mark_stale_runs_crashed())
    std::cerr << "note: run " << id << " stopped without finishing; marked crashed (resume with --resume " << id
              << ")\n";

  std::string command_line = "xp run";
  for (const auto& a : args) command_line += " " + a;
  engine::RunRequest request;
  request.runs_root = default_run_root(registry_path);
  request.command_line = command_line;
  request.interrupt = interrupt_flag();
  request.tty = ::isatty(STDOUT_FILENO) != 0;
  request.tags = slurm_tags();  // `xp runs` shows the job and array index; --tag may override them
  if (vm.count("tag"))
    for (const auto& t : vm["tag"].as<std::vector<std::string>>()) {
      const auto eq = t.find('=');
      const std::string key = t.substr(0, eq);
      if (key.empty()) throw ConfigError("--tag " + t + ": expected KEY=VALUE or KEY");
      request.tags[key] = eq == std::string::npos ? "" : t.substr(eq + 1);
    }

  // A Slurm job that xp requeued on SIGTERM starts again with the same command line: resume the
  // run it was in, then go on with the runs after it.
  const bool requeue = requeue_requested(vm);
  const auto marker = requeue ? requeue_marker(registry_path) : std::filesystem::path();
  size_t first_run = 0;
  bool from_marker = false;
  if (!marker.empty() && resume.empty()) {
    if (auto m = read_requeue_marker(marker)) {
      if (m->run_index > specs.size() || (m->run_index == specs.size() && m->run_id != kNoRun))
        throw ConfigError("requeue marker " + marker.string() + " names run " + std::to_string(m->run_index + 1) +
                          " but the experiment has " + std::to_string(specs.size()) + " runs; remove it to start over");
      first_run = m->run_index;
      from_marker = true;
      if (m->run_id == kNoRun) {
        std::cout << "requeued Slurm job: starting at run " << first_run + 1 << " of " << specs.size() << " (marker "
                  << marker.string() << ")\n";
        specs.erase(specs.begin(), specs.begin() + static_cast<std::ptrdiff_t>(first_run));
      } else {
        std::cout << "requeued Slurm job: resuming run " << m->run_id << " (marker " << marker.string() << ")\n";
        resume = m->run_id;
      }
    }
  }
  std::vector<RunSpec> later_specs;  // with a requeue marker: the runs after the resumed one

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
    if (from_marker) later_specs.assign(specs.begin() + first_run + 1, specs.end());
    if (from_marker && &specs[first_run] != match)
      throw ConfigError("requeue marker " + marker.string() + ": run " + record.id +
                        " does not have the configuration of run " + std::to_string(first_run + 1) +
                        " of the experiment; remove the marker to start over");
    if (record.status == RunStatus::Finished && from_marker) {
      // The job was stopped after the run finished but before the marker was removed.
      specs = later_specs;
      first_run += 1;
      resume.clear();
    } else {
      if (record.status == RunStatus::Finished)
        throw ConfigError("run " + record.id + " has already finished; nothing to resume");
      specs = {*match};
      specs.insert(specs.end(), later_specs.begin(), later_specs.end());
      request.resume_run_id = record.id;
      request.resume_dir = record.info.run_dir;
    }
  }

  // With requeueing, the marker always says where a restarted job picks up: the interrupted run,
  // or (kNoRun) the first run not yet done, so finished runs are never trained twice.
  const bool track = !marker.empty() && (resume.empty() || from_marker);
  auto requeue_at = [&](const std::string& run_id, size_t index) {
    write_requeue_marker(marker, {run_id, index});
    const std::string why = request_slurm_requeue();
    const std::string what = run_id == kNoRun ? "starts at run " + std::to_string(index + 1) : "resumes run " + run_id;
    if (why.empty())
      std::cout << "requeued Slurm job " << marker.filename().string() << "; it " << what << " when it starts again\n";
    else
      std::cerr << "warning: could not requeue the job (" << why << "); the marker " << marker.string()
                << " still makes a restarted job with the same command line " << what << "\n";
  };

  install_stop_handlers();
  int failed = 0;
  std::vector<RunSummaryRow> finished;
  for (size_t i = 0; i < specs.size(); ++i) {
    const auto& spec = specs[i];
    if (stop_requested()) {  // between two runs
      if (track && stopped_by_sigterm()) requeue_at(kNoRun, first_run + i);
      break;
    }
    if (i > 0) {  // only the first run can be the resumed one
      request.resume_run_id.clear();
      request.resume_dir.clear();
    }
    if (!spec.output.empty() && request.resume_run_id.empty()) request.runs_root = std::filesystem::absolute(spec.output);
    engine::RunOutcome outcome;
    try {
      outcome = engine::run_one(spec, *registry, request);
    } catch (const ConfigError&) {
      throw;  // the whole experiment is misconfigured: exit 2
    } catch (const std::exception& e) {
      std::cerr << "error: run failed: " << e.what() << "\n";
      ++failed;
      if (track) write_requeue_marker(marker, {kNoRun, first_run + i + 1});
      finished.push_back({"-", spec.variant, spec.seed, "failed", {}, e.what()});
      continue;
    }
    const auto& r = outcome.result;
    finished.push_back(summary_row(spec, outcome));
    // The epoch and test lines above carry the numbers; this line says where to find all of them.
    std::cout << "run " << outcome.run_id << " " << run_status_names()[static_cast<size_t>(r.status)];
    for (const auto& [k, v] : r.summary)
      if (k.rfind("best_", 0) == 0) std::cout << "  " << k << " " << v;
    std::cout << "  (all metrics: xp show " << outcome.run_id << ")\n";
    if (r.status == RunStatus::Interrupted) {
      print_summary(finished, specs, std::cout);
      std::cout << "interrupted; continue with: xp run --resume " << outcome.run_id << "\n";
      if (track && stopped_by_sigterm()) requeue_at(outcome.run_id, first_run + i);
      registry->flush();
      return stop_exit_code();
    }
    if (track) write_requeue_marker(marker, {kNoRun, first_run + i + 1});
    if (r.status != RunStatus::Finished) {
      std::cerr << "error: " << r.message << "\n";
      ++failed;
    }
  }
  registry->flush();
  print_summary(finished, specs, std::cout);
  if (stop_requested()) return stop_exit_code();
  if (track) std::filesystem::remove(marker);  // every run done: a new job with this id starts afresh
  return failed ? kRunFailed : kOk;
}

}  // namespace

XP_CLI_COMMAND("run", "train the runs of an experiment (or --resume one), recording them in the registry", run);

}  // namespace xp::cli
