#include "sweep_worker.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cmath>
#include <fstream>
#include <iostream>

#include "pruner.h"
#include "run_registry.h"
#include "sampler.h"
#include "slurm_launcher.h"
#include "sql_sweep_store.h"
#include "subprocess.h"
#include "sweep_coordinator.h"
#include "xp/base/suggest.h"
#include "sweep_config.h"
#include "trial_runs.h"
#include "xp/errors.h"

namespace xp::sweeps {

namespace fs = std::filesystem;

fs::path sweep_log_dir(const fs::path& registry, const std::string& sweep_id) {
  return default_run_root(registry) / "sweeps" / sweep_id;
}

namespace {

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

std::string last_lines(const fs::path& file, size_t n) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
    if (lines.size() > n) lines.erase(lines.begin());
  }
  std::string s;
  for (const auto& l : lines) s += (s.empty() ? "" : "\n") + l;
  return s;
}

struct TrialOutcome {
  TrialState state = TrialState::Failed;
  std::optional<double> value;
  std::optional<int64_t> pruned_epoch;
  std::string message;
};

class Worker {
 public:
  Worker(const WorkerOptions& options, std::ostream& log)
      : options_(options), log_(log), store_(options.registry), runs_(options.registry) {
    auto sweep = store_.find_sweep(options.sweep_id);
    if (!sweep) throw ConfigError("no sweep '" + options.sweep_id + "' in " + options.registry.string());
    sweep_ = *sweep;
    config_ = parse_sweep_text(sweep_.config_text, sweep_.config_path);
    sampler_ = make_sampler(config_.space, config_.sampler_options());
    pruner_ = make_pruner(config_.pruner);
    slurm_task_ = slurm_task_label();
    // Unique across machines; names the Slurm task too, so `xp sweep status` says where a trial runs.
    name_ = options.name.empty() ? current_host() + ":" + std::to_string(::getpid()) +
                                       (slurm_task_.empty() ? "" : " slurm " + slurm_task_)
                                 : options.name;
    xp_ = options.xp_binary.empty() ? self_executable() : options.xp_binary;
    fs::create_directories(sweep_log_dir(options.registry, sweep_.id));
  }

  int run() {
    auto propose = [&](const std::vector<TrialRecord>& history, int64_t number) {
      return sampler_->propose(history, number);
    };
    int64_t done = 0;
    const double idle_since = now_seconds();
    while (!stop_requested()) {
      if (options_.max_trials > 0 && done >= options_.max_trials) return 0;
      auto trial = store_.claim_trial(sweep_.id, name_, propose);
      if (!trial) {
        // Nothing to claim. A trial another worker is running may still come back (its worker
        // died and the lease expires): wait for the others before leaving.
        bool others_running = false;
        for (const auto& t : store_.trials(sweep_.id)) others_running |= t.state == TrialState::Running;
        if (!others_running) {
          // Nothing waiting, nothing running, nothing new to propose: the sweep is done. Whoever
          // notices first says so (workers started by hand or by Slurm have no coordinator).
          auto fresh = store_.find_sweep(sweep_.id);
          if (fresh && fresh->state == SweepState::Running) store_.set_sweep_state(sweep_.id, SweepState::Finished);
          return 0;
        }
        if (options_.idle_wait_seconds >= 0 && now_seconds() - idle_since > options_.idle_wait_seconds) return 0;
        sleep_unless_stopped(2.0);
        continue;
      }
      ++done;
      auto outcome = run_trial(*trial);
      store_.finish_trial(sweep_.id, trial->number, name_, outcome.state, outcome.value, outcome.pruned_epoch,
                          outcome.message);
      log_ << "trial " << trial->number << " " << trial_state_name(outcome.state)
           << (outcome.value ? ": " + config_.metric + " = " + Value(*outcome.value).to_string() : "")
           << (outcome.message.empty() || outcome.state == TrialState::Complete ? "" : " (" + outcome.message + ")")
           << "\n"
           << std::flush;
      // Interrupted by a signal: leave. Interrupted because the lease was lost (a stall longer
      // than lease_seconds; the trial now belongs to another worker): go on with the next one.
      if (outcome.state == TrialState::Interrupted && stop_requested()) break;
    }
    return stop_requested() ? 130 : 0;
  }

 private:
  std::vector<std::string> command(const TrialRecord& t) const {
    std::vector<std::string> argv = {xp_.string(), "run", config_.experiment.string()};
    if (!config_.variant.empty()) argv.insert(argv.end(), {"--variant", config_.variant});
    for (const auto& set : trial_overrides(config_, t.params)) argv.insert(argv.end(), {"--set", set});
    if (!config_.seeds.empty()) {
      std::string seeds;
      for (auto s : config_.seeds) seeds += (seeds.empty() ? "" : ",") + std::to_string(s);
      argv.insert(argv.end(), {"--seeds", seeds});
    }
    argv.insert(argv.end(), {"--registry", registry_argument(options_.registry)});
    if (!slurm_task_.empty()) {
      // `xp runs --where "tags.slurm_job = '123'"` finds a job's runs.
      const char* job = std::getenv("SLURM_ARRAY_JOB_ID");
      if (!job || !*job) job = std::getenv("SLURM_JOB_ID");
      const char* task = std::getenv("SLURM_ARRAY_TASK_ID");
      argv.insert(argv.end(), {"--tag", std::string("slurm_job=") + (job ? job : "")});
      if (task && *task) argv.insert(argv.end(), {"--tag", std::string("slurm_array_task=") + task});
    }
    return argv;
  }

  // Copies new epochs of the pruning metric into the store and asks the pruner about each, in
  // order. Returns the epoch to prune at, if any.
  std::optional<int64_t> watch(TrialRecord& t, const std::vector<TrialRun>& runs) {
    if (runs.empty()) return std::nullopt;
    // Prune on the first seed's run: later seeds start from epoch 0 again.
    for (const auto& [epoch, value] : runs.front().epochs) {
      if (t.intermediate.count(epoch)) continue;
      t.intermediate[epoch] = value;
      store_.report_intermediate(sweep_.id, t.number, epoch, value);
      if (!pruner_) continue;
      if (pruner_->should_prune(t, epoch, store_.trials(sweep_.id))) return epoch;
    }
    return std::nullopt;
  }

  TrialOutcome run_trial(TrialRecord trial) {
    auto log_file = sweep_log_dir(options_.registry, sweep_.id) /
                    ("trial_" + std::to_string(trial.number) + "_" + std::to_string(trial.attempts) + ".log");
    auto argv = command(trial);
    {
      std::ofstream header(log_file, std::ios::trunc);
      header << "#";
      for (const auto& a : argv) header << " " << a;
      header << "\n";
    }
    log_ << "trial " << trial.number << " started:";
    for (const auto& [k, v] : trial.params) log_ << " " << k << "=" << v.to_string();
    log_ << "\n" << std::flush;
    const double since = SqlSweepStore::system_clock();
    SpawnOptions spawn_options;
    spawn_options.log = log_file;
    spawn_options.new_process_group = true;
    spawn_options.parent_death_signal = SIGINT;  // a killed worker's run saves and stops, not runs on alone
    pid_t pid = spawn(argv, spawn_options);
    auto find_runs = [&] { return runs_.find(sweep_.id, trial.number, trial.attempts, pid, since, config_.pruner.metric); };
    const double renew_every = std::max(1.0, sweep_.lease_seconds / 4);
    double last_renew = now_seconds();
    TrialOutcome out;
    std::optional<int> exit_code;
    for (;;) {
      exit_code = poll_exit(pid);
      if (exit_code) break;
      if (stop_requested()) {
        stop_process(pid, SIGINT, 30.0, true);
        for (const auto& r : find_runs())
          if (r.status == "running") runs_.mark(r.id, "interrupted", "sweep worker interrupted");
        out.state = TrialState::Interrupted;
        out.message = "interrupted";
        return out;
      }
      if (now_seconds() - last_renew >= renew_every) {
        last_renew = now_seconds();
        if (!store_.renew_lease(sweep_.id, trial.number, name_)) {
          // The lease expired (a long stall) and the trial went to someone else: stand down.
          stop_process(pid, SIGINT, 30.0, true);
          out.state = TrialState::Interrupted;
          out.message = "lost the lease";
          return out;
        }
      }
      if (auto epoch = watch(trial, find_runs())) {
        stop_process(pid, SIGINT, 30.0, true);
        for (const auto& r : find_runs())
          if (r.status == "running" || r.status == "interrupted" || r.status == "crashed")
            runs_.mark(r.id, "pruned", config_.pruner.method + " pruned it at epoch " + std::to_string(*epoch));
        out.state = TrialState::Pruned;
        out.pruned_epoch = epoch;
        out.message = config_.pruner.method + " at epoch " + std::to_string(*epoch);
        return out;
      }
      sleep_unless_stopped(options_.poll_seconds);
    }
    auto runs = find_runs();
    watch(trial, runs);  // record the last epochs too, for the report and for TPE
    if (*exit_code != 0) {
      out.message = "xp run exited with " + std::to_string(*exit_code) + "; log " + log_file.string() + ":\n" +
                    last_lines(log_file, 5);
      return out;
    }
    if (runs.empty()) {
      out.message = "xp run recorded no run tagged sweep=" + sweep_.id + " (log " + log_file.string() + ")";
      return out;
    }
    std::vector<std::string> ids;
    double sum = 0;
    for (const auto& r : runs) {
      ids.push_back(r.id);
      auto it = r.metrics.find(config_.metric);
      if (it == r.metrics.end()) {
        std::vector<std::string> names;
        for (const auto& [k, v] : r.metrics) names.push_back(k);
        out.message = "run " + r.id + " has no metric '" + config_.metric + "'" + did_you_mean(config_.metric, names);
        store_.set_trial_runs(sweep_.id, trial.number, ids);
        return out;
      }
      sum += it->second;
    }
    store_.set_trial_runs(sweep_.id, trial.number, ids);
    double value = sum / static_cast<double>(runs.size());
    if (!std::isfinite(value)) {
      out.message = config_.metric + " is not finite";
      return out;
    }
    out.state = TrialState::Complete;
    out.value = value;
    return out;
  }

  WorkerOptions options_;
  std::ostream& log_;
  SqlSweepStore store_;
  TrialRuns runs_;
  SweepRecord sweep_;
  SweepConfig config_;
  std::unique_ptr<Sampler> sampler_;
  std::unique_ptr<Pruner> pruner_;
  std::string name_, slurm_task_;
  fs::path xp_;
};

}  // namespace

int run_worker(const WorkerOptions& options, std::ostream& log) {
  install_stop_handlers();
  Worker worker(options, log);
  return worker.run();
}

}  // namespace xp::sweeps
