#include "sweep_coordinator.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <map>
#include <set>

#include "sql_db.h"
#include "sql_sweep_store.h"
#include "run_registry.h"
#include "subprocess.h"
#include "sweep_config.h"
#include "sweep_report.h"
#include "slurm_launcher.h"
#include "sweep_worker.h"
#include "xp/errors.h"

namespace xp::sweeps {

namespace fs = std::filesystem;

namespace {

// Whether a worker could still find something to do: a trial waiting or running, or budget left.
bool work_left(SqlSweepStore& store, const SweepRecord& sweep, const std::vector<TrialRecord>& trials) {
  for (const auto& t : trials)
    if (t.state == TrialState::Waiting || t.state == TrialState::Running) return true;
  auto fresh = store.find_sweep(sweep.id);
  if (!fresh || fresh->state != SweepState::Running) return false;
  if (fresh->deadline && SqlSweepStore::system_clock() >= *fresh->deadline) return false;
  if (fresh->max_trials && static_cast<int64_t>(trials.size()) >= *fresh->max_trials) return false;
  return true;
}

void print_finished(std::ostream& out, const TrialRecord& t, const SweepConfig& config) {
  out << "  trial " << t.number << " " << trial_state_name(t.state);
  if (t.value) out << "  " << config.metric << " = " << Value(*t.value).to_string();
  if (t.pruned_epoch) out << " at epoch " << *t.pruned_epoch;
  out << "  ";
  for (const auto& [k, v] : t.params) out << " " << k << "=" << v.to_string();
  if (!t.message.empty() && t.state != TrialState::Complete && t.state != TrialState::Pruned)
    out << "\n    " << t.message.substr(0, t.message.find('\n'));
  out << "\n" << std::flush;
}

// The end of a sweep, whoever ran its workers: the last finished trials, the state, the best trial.
int conclude(SqlSweepStore& store, const SweepRecord& sweep, const SweepConfig& config, const SweepOptions& options,
             std::set<int64_t>& reported, const fs::path& logs, std::ostream& out) {
  auto trials = store.trials(sweep.id);
  for (const auto& t : trials)
    if (is_finished(t.state) && reported.insert(t.number).second) print_finished(out, t, config);
  store.set_sweep_state(sweep.id, SweepState::Finished);
  out << "done: " << state_counts(trials) << "\n";
  auto best = best_trial(trials, config.direction);
  if (!best) {
    out << "no trial completed; see the trial logs in " << logs.string() << "\n";
    return 1;
  }
  out << "best: trial " << best->number << "  " << config.metric << " = " << Value(*best->value).to_string() << "\n";
  for (const auto& [k, v] : best->params) out << "  " << k << " = " << v.to_string() << "\n";
  out << "report: xp sweep report " << sweep.id << " --registry " << sql::redact_location(options.registry.string())
      << "\n";
  return 0;
}

// One Slurm job array of workers. With a trial budget every task runs one trial (a task per trial
// still to run, P at a time); with only a time budget P tasks each work until it runs out.
int launch_on_slurm(SqlSweepStore& store, const SweepRecord& sweep, const SweepConfig& config,
                    const SweepOptions& options, const fs::path& xp, const fs::path& logs, std::ostream& out) {
  const int64_t parallel = std::max<int64_t>(1, options.workers.value_or(config.workers));
  auto trials = store.trials(sweep.id);
  int64_t finished = 0;
  for (const auto& t : trials) finished += is_finished(t.state);
  SlurmArrayRequest request;
  request.job_name = "xp-" + sweep.id;
  request.parallel = parallel;
  request.tasks = sweep.max_trials ? *sweep.max_trials - finished : parallel;
  if (request.tasks <= 0) {
    out << "nothing left to run: " << state_counts(trials) << "\n";
    return 0;
  }
  request.command = {xp.string(), "sweep", "worker", sweep.id, "--registry", registry_argument(options.registry)};
  if (sweep.max_trials) request.command.insert(request.command.end(), {"--trials", "1", "--idle-wait", "0"});
  request.sbatch_args = options.sbatch_args;
  request.log_dir = logs;
  std::string job;
  try {
    job = submit_slurm_array(request);
  } catch (...) {
    store.set_sweep_state(sweep.id, SweepState::Interrupted);  // resumable once the options are fixed
    throw;
  }
  store.add_job(sweep.id, {"slurm", job, request.tasks, request.parallel, SqlSweepStore::system_clock()});
  out << "  submitted Slurm job " << job << ": array 0-" << request.tasks - 1 << "%" << parallel << " of `xp sweep worker "
      << sweep.id << "`; logs in " << logs.string() << "\n"
      << "  follow it with: xp sweep status " << sweep.id << " --registry "
      << sql::redact_location(options.registry.string()) << "\n"
      << std::flush;
  if (!options.wait) return 0;
  install_stop_handlers();
  std::set<int64_t> reported;
  for (const auto& t : trials)
    if (is_finished(t.state)) reported.insert(t.number);
  for (;;) {
    for (const auto& t : store.trials(sweep.id))
      if (is_finished(t.state) && reported.insert(t.number).second) print_finished(out, t, config);
    if (slurm_queue(job).empty()) break;
    if (stop_requested()) {
      // The job keeps running without us: Ctrl-C only stops the following.
      out << "stopped following; the job runs on (scancel " << job << " stops it)\n";
      return 130;
    }
    sleep_unless_stopped(options.poll_seconds);
  }
  int64_t left = 0;
  for (const auto& t : store.trials(sweep.id)) left += t.state == TrialState::Waiting || t.state == TrialState::Running;
  if (left > 0) {
    out << left << " trial(s) still waiting or running after the job ended (tasks died or were cancelled); run them "
        << "with: xp sweep --resume " << sweep.id << " --launcher slurm\n";
    return 1;
  }
  return conclude(store, sweep, config, options, reported, logs, out);
}

}  // namespace

std::vector<std::string> trial_overrides(const SweepConfig& config, const std::map<std::string, Value>& params) {
  std::vector<std::string> sets;
  for (const auto& [k, v] : config.fixed) sets.push_back(k + "=" + v.to_string());
  for (const auto& [k, v] : params) sets.push_back(k + "=" + v.to_string());
  return sets;
}

std::vector<std::vector<std::string>> preflight_overrides(const SweepConfig& config) {
  ParamSet base;
  for (const auto& d : config.space.dimensions())
    base[d.key] = d.is_categorical() ? d.values.front() : d.from_internal(d.internal_low());
  std::vector<std::vector<std::string>> out = {trial_overrides(config, base)};
  for (const auto& d : config.space.dimensions()) {
    std::vector<Value> others;
    if (d.is_categorical()) others.assign(d.values.begin() + 1, d.values.end());
    else others.push_back(d.from_internal(d.internal_high()));
    for (const auto& v : others) {
      ParamSet p = base;
      p[d.key] = v;
      out.push_back(trial_overrides(config, p));
    }
  }
  return out;
}

int run_sweep(const SweepOptions& options, std::ostream& out) {
  SqlSweepStore store(options.registry);
  SweepRecord sweep;
  SweepConfig config;
  const double now = SqlSweepStore::system_clock();
  if (!options.resume_id.empty()) {
    auto found = store.find_sweep(options.resume_id);
    if (!found) {
      std::vector<std::string> ids;
      for (const auto& s : store.list_sweeps()) ids.push_back(s.id);
      throw ConfigError("no sweep '" + options.resume_id + "' in " + options.registry.string() +
                        (ids.empty() ? std::string() : "; known: " + ids.back()));
    }
    sweep = *found;
    config = parse_sweep_text(sweep.config_text, sweep.config_path);
    int64_t requeued = store.requeue_interrupted(sweep.id);
    store.set_sweep_state(sweep.id, SweepState::Running);
    // A fresh time budget from now; the trial budget counts every trial already made.
    store.set_deadline(sweep.id, config.max_minutes ? std::optional<double>(now + *config.max_minutes * 60) : std::nullopt);
    out << "resuming sweep " << sweep.id << " (" << state_counts(store.trials(sweep.id)) << "; " << requeued
        << " interrupted trial(s) requeued)\n";
  } else {
    config = parse_sweep_file(options.sweep_file);
    if (!fs::exists(config.experiment))
      throw ConfigError("the swept experiment '" + config.experiment.string() + "' does not exist",
                        config.file.string());
    if (options.check_overrides)
      for (const auto& sets : preflight_overrides(config)) options.check_overrides(sets);
    sweep.config_path = config.file.string();
    sweep.config_text = config.text;
    sweep.experiment = config.experiment.string();
    sweep.variant = config.variant;
    sweep.method = config.method;
    sweep.metric = config.metric;
    sweep.direction = config.direction;
    sweep.max_trials = config.max_trials();
    if (config.max_minutes) sweep.deadline = now + *config.max_minutes * 60;
    sweep.max_retries = config.max_retries;
    sweep.lease_seconds = config.lease_seconds;
    sweep.id = store.create_sweep(sweep);
    out << "sweep " << sweep.id << ": " << config.method << " over " << config.space.dimensions().size()
        << " parameter(s) of " << config.experiment.filename().string()
        << (config.variant.empty() ? "" : " [" + config.variant + "]") << ", " << direction_name(config.direction)
        << "imise " << config.metric;
    if (sweep.max_trials) out << ", " << *sweep.max_trials << " trials";
    if (config.max_minutes) out << ", " << *config.max_minutes << " min";
    if (config.pruner.method != "none") out << ", " << config.pruner.method << " pruning on " << config.pruner.metric;
    out << "\n";
  }
  const int64_t n_workers = std::max<int64_t>(1, options.workers.value_or(config.workers));
  const fs::path xp = options.xp_binary.empty() ? self_executable() : options.xp_binary;
  const fs::path logs = sweep_log_dir(options.registry, sweep.id);
  fs::create_directories(logs);
  if (options.launcher == "none") {
    out << "  no workers started; start any number, on any machines that reach the registry, with:\n    xp sweep worker "
        << sweep.id << " --registry " << sql::redact_location(registry_argument(options.registry)) << "\n";
    return 0;
  }
  if (options.launcher == "slurm") return launch_on_slurm(store, sweep, config, options, xp, logs, out);
  out << "  " << n_workers << " worker(s); logs in " << logs.string() << "\n" << std::flush;

  install_stop_handlers();
  std::map<pid_t, int> workers;  // pid -> worker index
  int failures = 0;
  std::set<int64_t> reported;
  for (const auto& t : store.trials(sweep.id))
    if (is_finished(t.state)) reported.insert(t.number);

  auto spawn_worker = [&](int index) {
    std::vector<std::string> argv = {xp.string(), "sweep", "worker", sweep.id, "--registry",
                                     registry_argument(options.registry)};
    SpawnOptions so;
    so.log = logs / ("worker_" + std::to_string(index) + ".log");
    so.parent_death_signal = SIGTERM;  // workers stop (and stop their trials) if xp sweep is killed
    workers[spawn(argv, so)] = index;
  };
  bool interrupted = false;
  for (int i = 0; i < n_workers; ++i) spawn_worker(i);
  while (!workers.empty()) {
    if (stop_requested() && !interrupted) {
      interrupted = true;
      out << "stopping: waiting for the workers to mark their trials interrupted\n" << std::flush;
      for (const auto& [pid, index] : workers) ::kill(pid, SIGTERM);
    }
    for (auto it = workers.begin(); it != workers.end();) {
      if (auto code = poll_exit(it->first)) {
        if (*code != 0 && !interrupted) {
          ++failures;
          out << "  worker " << it->second << " exited with " << *code << " (see " << (logs / ("worker_" + std::to_string(it->second) + ".log")).string() << ")\n";
        }
        int index = it->second;
        it = workers.erase(it);
        auto trials = store.trials(sweep.id);
        // Replace a worker that died while work remains, but not one that fails every time.
        if (*code != 0 && !interrupted && failures < 3 * n_workers && work_left(store, sweep, trials))
          spawn_worker(index);
      } else {
        ++it;
      }
    }
    for (const auto& t : store.trials(sweep.id))
      if (is_finished(t.state) && reported.insert(t.number).second) print_finished(out, t, config);
    // Once stopping, sleep_unless_stopped returns at once: wait for the workers at a gentle pace.
    if (!workers.empty()) interrupted ? (void)::usleep(200000) : sleep_unless_stopped(options.poll_seconds);
  }
  auto trials = store.trials(sweep.id);
  for (const auto& t : trials)
    if (is_finished(t.state) && reported.insert(t.number).second) print_finished(out, t, config);
  if (interrupted) {
    store.set_sweep_state(sweep.id, SweepState::Interrupted);
    out << "interrupted: " << state_counts(trials) << "\nresume with: xp sweep --resume " << sweep.id
        << " --registry " << options.registry.string() << "\n";
    return 130;
  }
  return conclude(store, sweep, config, options, reported, logs, out);
}

}  // namespace xp::sweeps
