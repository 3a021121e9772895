#include "run_batch.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <sstream>

#include "run_registry.h"
#include "slurm_launcher.h"
#include "sql_db.h"
#include "sql_sweep_store.h"
#include "subprocess.h"
#include "xp/base/sha256.h"
#include "xp/errors.h"

namespace xp::sweeps {

namespace fs = std::filesystem;

namespace {

double steady_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

ParamSet item_params(const PlannedRun& run) {
  return {{"variant", Value(run.variant)}, {"seed", Value(run.seed)}, {"config_hash", Value(run.config_hash)}};
}

PlannedRun planned_run(const TrialRecord& item) {
  PlannedRun run;
  auto get = [&](const char* key) -> const Value* {
    auto it = item.params.find(key);
    return it == item.params.end() ? nullptr : &it->second;
  };
  if (const auto* v = get("variant")) run.variant = v->as_string();
  if (const auto* v = get("seed")) run.seed = v->as_int();
  if (const auto* v = get("config_hash")) run.config_hash = v->as_string();
  return run;
}

std::string run_name(const PlannedRun& run) {
  return (run.variant.empty() ? std::string() : "variant " + run.variant + ", ") + "seed " + std::to_string(run.seed);
}

fs::path batch_log_dir(const fs::path& registry, const std::string& id) {
  return default_run_root(registry) / "batches" / id;
}

std::string where_batch(const std::string& id) { return "tags.xp_batch = '" + id + "'"; }

}  // namespace

std::string run_batch_id(const RunBatchPlan& plan) {
  std::string key = plan.experiment + "\n";
  for (const auto& r : plan.runs) key += r.variant + "\t" + std::to_string(r.seed) + "\t" + r.config_hash + "\n";
  return "rb-" + sha256_hex(key).substr(0, 8);
}

RunBatchCounts count_run_batch(const std::vector<TrialRecord>& items) {
  RunBatchCounts c;
  for (const auto& t : items) switch (t.state) {
      case TrialState::Waiting: ++c.queued; break;
      case TrialState::Running: ++c.running; break;
      case TrialState::Complete: ++c.finished; break;
      case TrialState::Interrupted: ++c.interrupted; break;
      default: ++c.failed; break;  // failed, crashed (lease lost too often), pruned (never happens)
    }
  return c;
}

std::string describe(const RunBatchCounts& c) {
  std::ostringstream s;
  s << c.total() << " run" << (c.total() == 1 ? "" : "s") << ":";
  const char* sep = " ";
  for (auto [n, what] : {std::pair<int64_t, const char*>{c.queued, "queued"}, {c.running, "running"},
                         {c.finished, "finished"}, {c.failed, "failed"}, {c.interrupted, "interrupted"}})
    if (n > 0) {
      s << sep << n << " " << what;
      sep = ", ";
    }
  return s.str();
}

int submit_run_batch(const RunBatchSubmission& sub, std::ostream& out) {
  const RunBatchPlan& plan = sub.plan;
  if (plan.runs.empty()) throw ConfigError("the experiment describes no runs; nothing to submit");
  SqlSweepStore store(plan.registry);
  const std::string id = run_batch_id(plan);
  auto existing = store.find_sweep(id);
  if (!existing) {
    SweepRecord r;
    r.id = id;
    r.config_path = plan.experiment_file.string();
    r.experiment = plan.experiment;
    r.method = kRunBatchMethod;
    r.max_trials = static_cast<int64_t>(plan.runs.size());
    r.max_retries = plan.max_retries;
    r.lease_seconds = plan.lease_seconds;
    try {
      store.create_sweep(r);
    } catch (const std::exception&) {
      if (!store.find_sweep(id)) throw;  // else the same submission raced us to it: use theirs
    }
  } else if (existing->method != kRunBatchMethod) {
    throw ConfigError("registry " + sql::redact_location(plan.registry.string()) + " has a sweep named " + id +
                      "; cannot record a batch of runs under that id");
  }
  std::vector<ParamSet> items;
  for (const auto& r : plan.runs) items.push_back(item_params(r));
  store.add_planned_trials(id, items);
  if (existing) {
    // Submitted before: what finished stays finished; what failed or was stopped is asked for again.
    store.expire_leases(id);
    if (int64_t again = store.requeue_unfinished(id))
      out << "batch " << id << " was submitted before; " << again << " failed or interrupted run(s) queued again\n";
  }
  auto counts = count_run_batch(store.trials(id));
  out << "batch " << id << ": " << plan.experiment << ", " << describe(counts) << "\n";
  if (counts.queued == 0) {
    out << "  nothing to submit: every run of the batch is finished or running (xp runs --where \"" << where_batch(id)
        << "\")\n";
    return 0;
  }

  SlurmArrayRequest request;
  request.job_name = "xp-" + id;
  request.tasks = counts.queued;
  request.parallel = sub.parallel > 0 ? std::min(sub.parallel, counts.queued) : counts.queued;
  request.command = sub.task_command;
  request.command.insert(request.command.end(), {"--lease-from", id});
  request.sbatch_args = sub.sbatch_args;
  request.log_dir = batch_log_dir(plan.registry, id);
  const std::string job = submit_slurm_array(request);
  store.add_job(id, {"slurm", job, request.tasks, request.parallel, SqlSweepStore::system_clock()});
  out << "  submitted Slurm job " << job << ": array 0-" << request.tasks - 1 << "%" << request.parallel
      << ", one task per queued run; logs in " << request.log_dir.string() << "\n"
      << "  follow it with: xp runs --where \"" << where_batch(id) << "\" --registry "
      << sql::redact_location(plan.registry.string()) << "\n"
      << std::flush;
  if (!sub.wait) return 0;

  install_stop_handlers();
  std::string last;
  for (;;) {
    const bool queued = !slurm_queue(job).empty();
    const std::string now = describe(count_run_batch(store.trials(id)));
    if (now != last) out << "  " << now << "\n" << std::flush;
    last = now;
    if (!queued) break;
    if (stop_requested()) {
      out << "stopped following; the job runs on (scancel " << job << " stops it)\n";
      return 130;
    }
    sleep_unless_stopped(sub.poll_seconds);
  }
  counts = count_run_batch(store.trials(id));
  out << "done: batch " << id << ", " << describe(counts) << "\n";
  if (counts.active())
    out << "  " << counts.queued + counts.running << " run(s) still queued or running after the job left the queue "
        << "(tasks died or were cancelled); submit the same command again to run them\n";
  return counts.finished == counts.total() ? 0 : 1;
}

int run_batch_task(const RunBatchTask& task, std::ostream& log) {
  install_stop_handlers();
  SqlSweepStore store(task.registry);
  RunRegistry registry(task.registry);  // the same connection as the store's
  const auto batch = store.find_sweep(task.batch_id);
  if (!batch || batch->method != kRunBatchMethod)
    throw ConfigError("no batch of runs '" + task.batch_id + "' in " + sql::redact_location(task.registry.string()));
  const std::string slurm = slurm_task_label();
  const std::string name = !task.worker.empty() ? task.worker
                                                : current_host() + ":" + std::to_string(::getpid()) +
                                                      (slurm.empty() ? "" : " slurm " + slurm);
  // A task that Slurm requeued after preemption takes its stopped run up again.
  store.requeue_interrupted(task.batch_id);
  const Proposer nothing_new = [](const std::vector<TrialRecord>&, int64_t) { return std::optional<ParamSet>(); };
  std::optional<TrialRecord> item;
  const double idle_since = steady_seconds();
  while (!(item = store.claim_trial(task.batch_id, name, nothing_new))) {
    // Nothing queued. A run another task holds may still come back (its node died and the lease
    // runs out): wait one lease for that, then leave rather than hold the allocation.
    const auto items = store.trials(task.batch_id);
    const bool others = std::any_of(items.begin(), items.end(), [](const auto& t) { return t.state == TrialState::Running; });
    if (!others || stop_requested() || steady_seconds() - idle_since > batch->lease_seconds + 5) {
      log << "batch " << task.batch_id << ": nothing left to run (" << describe(count_run_batch(items)) << ")\n";
      return stop_requested() ? 128 + stop_signal() : 0;
    }
    sleep_unless_stopped(2.0);
  }
  const PlannedRun run = planned_run(*item);
  const std::string number = std::to_string(item->number);
  log << "batch " << task.batch_id << ": run " << number << " (" << run_name(run) << "), attempt " << item->attempts
      << ", worker " << name << "\n"
      << std::flush;
  auto fail = [&](const std::string& why) {
    store.fail_trial(task.batch_id, item->number, name, why);
    log << "error: " << why << "\n";
    return 1;
  };
  if (task.resolve_hash) {
    const std::string now = task.resolve_hash(run.variant, run.seed);
    if (now.empty())
      return fail("the experiment no longer has a run with " + run_name(run) + "; it changed after the batch was "
                  "submitted");
    if (now != run.config_hash)
      return fail("the configuration of " + run_name(run) + " changed after the batch was submitted (sha256 " +
                  run.config_hash.substr(0, 12) + ", now " + now.substr(0, 12) + "); submit the experiment again");
  }

  // A run an earlier attempt left interrupted (preemption, scancel) continues from its checkpoint,
  // so the (variant, seed) stays one run; anything else starts afresh.
  std::string resume;
  for (const auto& id : item->run_ids)
    if (auto r = registry.get_run(id); r && r->status == RunStatus::Interrupted) resume = id;
  std::vector<std::string> argv = task.run_command;
  if (!resume.empty()) {
    argv.insert(argv.end(), {"--resume", resume});
  } else {
    if (!run.variant.empty()) argv.insert(argv.end(), {"--variant", run.variant});
    argv.insert(argv.end(), {"--seeds", std::to_string(run.seed), "--no-dry-build", "--tag",
                             "xp_batch=" + task.batch_id, "--tag", "batch_run=" + number, "--tag",
                             "attempt=" + std::to_string(item->attempts)});
  }
  SpawnOptions spawn_options;
  spawn_options.new_process_group = true;
  spawn_options.parent_death_signal = SIGINT;  // a killed task's run saves and stops, not trains on alone
  const pid_t pid = spawn(argv, spawn_options);
  const double renew_every = std::max(1.0, batch->lease_seconds / 4);
  double last_renew = steady_seconds();
  std::optional<int> exit_code;
  std::string lost;
  while (!(exit_code = poll_exit(pid))) {
    if (stop_requested()) {
      exit_code = stop_process(pid, SIGINT, 60.0, true);
      break;
    }
    if (steady_seconds() - last_renew >= renew_every) {
      last_renew = steady_seconds();
      if (!store.renew_lease(task.batch_id, item->number, name)) {
        // The lease ran out (a stall longer than lease_seconds) and another task owns the run now.
        lost = "lost the lease";
        exit_code = stop_process(pid, SIGINT, 60.0, true);
        break;
      }
    }
    sleep_unless_stopped(task.poll_seconds);
  }

  std::vector<std::string> ids;
  if (!resume.empty()) {
    ids = {resume};
  } else {
    RunQuery q;
    q.where = where_batch(task.batch_id) + " and tags.batch_run = '" + number + "' and tags.attempt = '" +
              std::to_string(item->attempts) + "'";
    for (const auto& r : registry.list_runs(q)) ids.push_back(r.id);
  }
  store.set_trial_runs(task.batch_id, item->number, ids);
  const std::string run_id = ids.empty() ? "(none recorded)" : ids.front();
  TrialState state = TrialState::Failed;
  std::string message;
  if (!lost.empty() || stop_requested() || *exit_code == 130 || *exit_code == 143) {
    state = TrialState::Interrupted;
    message = lost.empty() ? "stopped by a signal" : lost;
  } else if (*exit_code == 0) {
    state = TrialState::Complete;
  } else {
    message = "xp run exited with " + std::to_string(*exit_code) + " (its output is above, in the task's log)";
  }
  const bool owned = store.finish_trial(task.batch_id, item->number, name, state, std::nullopt, std::nullopt, message);
  log << "batch " << task.batch_id << ": run " << number << " (" << run_name(run) << ") " << trial_state_name(state)
      << ": " << run_id << (message.empty() ? "" : " (" + message + ")")
      << (owned ? "" : "; another task holds it now, this result is dropped") << "\n"
      << std::flush;
  if (state == TrialState::Complete) return 0;
  if (state == TrialState::Interrupted) return stop_requested() ? 128 + stop_signal() : 0;
  return 1;
}

std::vector<RunBatchStatus> run_batches(const fs::path& registry, const std::string& experiment) {
  SqlSweepStore store(registry);
  std::vector<RunBatchStatus> out;
  for (auto& s : store.list_sweeps()) {
    if (s.method != kRunBatchMethod || (!experiment.empty() && s.experiment != experiment)) continue;
    RunBatchStatus status;
    status.counts = count_run_batch(store.trials(s.id));
    status.jobs = store.jobs(s.id);
    status.batch = std::move(s);
    out.push_back(std::move(status));
  }
  return out;
}

}  // namespace xp::sweeps
