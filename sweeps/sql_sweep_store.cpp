#include "sql_sweep_store.h"

#include "registry_schema.h"
#include "run_registry.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <sstream>
#include <stdexcept>


#include "xp/base/toml_value.h"
#include "xp/rng.h"

namespace xp::sweeps {

namespace fs = std::filesystem;

const char* sweep_state_name(SweepState s) {
  switch (s) {
    case SweepState::Running: return "running";
    case SweepState::Finished: return "finished";
    case SweepState::Interrupted: return "interrupted";
  }
  return "?";
}

SweepState parse_sweep_state(const std::string& name) {
  if (name == "running") return SweepState::Running;
  if (name == "finished") return SweepState::Finished;
  if (name == "interrupted") return SweepState::Interrupted;
  throw std::runtime_error("unknown sweep state '" + name + "' in the sweep store");
}

namespace {

std::string join_lines(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : "\n") + x;
  return s;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

SweepRecord read_sweep(const sql::Statement& s) {
  SweepRecord r;
  r.id = s.text(0);
  r.config_path = s.text(1);
  r.config_text = s.text(2);
  r.experiment = s.text(3);
  r.variant = s.text(4);
  r.method = s.text(5);
  r.metric = s.text(6);
  r.direction = s.text(7) == "max" ? Direction::Maximize : Direction::Minimize;
  r.max_trials = s.int64_or_null(8);
  r.deadline = s.real_or_null(9);
  r.max_retries = s.int64(10);
  r.lease_seconds = s.real(11);
  r.state = parse_sweep_state(s.text(12));
  r.created_at = s.real(13);
  return r;
}

const char* kSweepColumns =
    "SELECT id, config_path, config_text, experiment, variant, method, metric, mode, max_trials, deadline, "
    "max_retries, lease_seconds, state, created_at FROM sweeps";

}  // namespace

double SqlSweepStore::system_clock() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

SqlSweepStore::SqlSweepStore(const fs::path& registry, Clock clock)
    : path_(registry), clock_(clock ? std::move(clock) : Clock(&SqlSweepStore::system_clock)) {
  const bool url = is_registry_url(registry.string());
  if (!url && registry.has_parent_path()) fs::create_directories(registry.parent_path());
  db_ = sql::shared_database(registry.string());
  if (url) path_ = db_->path();
  registry::ensure_schema(*db_);  // the sweep tables are part of the registry's schema
}

SqlSweepStore::~SqlSweepStore() = default;

void SqlSweepStore::lock_sweep(const std::string& sweep_id) {
  // Serializes claims, renewals and expiry of one sweep across processes and machines: on
  // PostgreSQL a row lock held to the end of the transaction; on SQLite BEGIN IMMEDIATE already did.
  if (db_->dialect() != sql::Dialect::Postgres) return;
  db_->prepare("SELECT id FROM sweeps WHERE id = ?1 FOR UPDATE").bind(1, sweep_id).run();
}

std::string SqlSweepStore::create_sweep(const SweepRecord& in) {
  SweepRecord r = in;
  if (r.id.empty()) {
    // Short and unique enough for a registry: time and pid mixed, 8 hex digits.
    auto now_ns = std::chrono::steady_clock::now().time_since_epoch().count();
    uint64_t h = Rng::mix(static_cast<uint64_t>(now_ns), static_cast<uint64_t>(::getpid()),
                          static_cast<uint64_t>(clock_() * 1e6));
    char buf[16];
    std::snprintf(buf, sizeof buf, "%08llx", static_cast<unsigned long long>(h & 0xffffffffull));
    r.id = std::string("sw-") + buf;
  }
  db_->write_transaction([&] {
  auto s = db_->prepare(
              "INSERT INTO sweeps (id, config_path, config_text, experiment, variant, method, metric, mode, "
              "max_trials, deadline, max_retries, lease_seconds, state, created_at) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
  s.bind(1, r.id).bind(2, r.config_path).bind(3, r.config_text).bind(4, r.experiment).bind(5, r.variant);
  s.bind(6, r.method).bind(7, r.metric).bind(8, std::string(direction_name(r.direction))).bind(9, r.max_trials);
  s.bind(10, r.deadline).bind(11, r.max_retries).bind(12, r.lease_seconds);
  s.bind(13, std::string(sweep_state_name(r.state))).bind(14, clock_());
  s.run();
  });
  return r.id;
}

std::optional<SweepRecord> SqlSweepStore::find_sweep(const std::string& id) {
  auto s = db_->prepare( (std::string(kSweepColumns) + " WHERE id = ?1"));
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_sweep(s);
}

std::vector<SweepRecord> SqlSweepStore::list_sweeps() {
  auto s = db_->prepare( (std::string(kSweepColumns) + " ORDER BY created_at"));
  std::vector<SweepRecord> out;
  while (s.step()) out.push_back(read_sweep(s));
  return out;
}

SweepRecord SqlSweepStore::require_sweep(const std::string& id) {
  auto r = find_sweep(id);
  if (!r) throw std::runtime_error("no sweep '" + id + "' in " + path_.string());
  return *r;
}

void SqlSweepStore::set_sweep_state(const std::string& id, SweepState state) {
  auto s = db_->prepare( "UPDATE sweeps SET state = ?2 WHERE id = ?1");
  s.bind(1, id).bind(2, std::string(sweep_state_name(state))).run();
}

void SqlSweepStore::set_deadline(const std::string& id, std::optional<double> deadline) {
  auto s = db_->prepare( "UPDATE sweeps SET deadline = ?2 WHERE id = ?1");
  s.bind(1, id).bind(2, deadline).run();
}

int64_t SqlSweepStore::expire_leases_locked(const SweepRecord& sweep, double now) {
  auto crash = db_->prepare(
                  "UPDATE sweep_trials SET state = 'crashed', lease_until = NULL, finished_at = ?2, "
                  "message = 'its worker stopped renewing the lease ' || attempts || ' times' "
                  "WHERE sweep_id = ?1 AND state = 'running' AND lease_until < ?2 AND attempts > ?3");
  crash.bind(1, sweep.id).bind(2, now).bind(3, sweep.max_retries).run();
  int64_t changed = db_->changes();
  auto retry = db_->prepare(
                  "UPDATE sweep_trials SET state = 'waiting', lease_until = NULL, worker = '', "
                  "message = 'lease expired; retrying' "
                  "WHERE sweep_id = ?1 AND state = 'running' AND lease_until < ?2");
  retry.bind(1, sweep.id).bind(2, now).run();
  return changed + db_->changes();
}

int64_t SqlSweepStore::expire_leases(const std::string& id) {
  int64_t n = 0;
  db_->write_transaction([&] {
    lock_sweep(id);
    auto sweep = require_sweep(id);
    n = expire_leases_locked(sweep, clock_());
  });
  return n;
}

std::optional<TrialRecord> SqlSweepStore::claim_trial(const std::string& id, const std::string& worker,
                                                         const Proposer& propose) {
  std::optional<TrialRecord> out;
  db_->write_transaction([&] {
  out.reset();  // a retried transaction starts over
  lock_sweep(id);
  const auto sweep = require_sweep(id);
  const double now = clock_();
  expire_leases_locked(sweep, now);

  // The trial to hand out: the lowest waiting one, else a new one while the budget allows.
  auto pick = [&]() -> std::optional<int64_t> {
    if (sweep.state != SweepState::Running || (sweep.deadline && now >= *sweep.deadline)) return std::nullopt;
    auto s = db_->prepare( "SELECT number FROM sweep_trials WHERE sweep_id = ?1 AND state = 'waiting' ORDER BY number LIMIT 1");
    s.bind(1, id);
    if (s.step()) return s.int64(0);
    auto history = trials(id);
    if (sweep.max_trials && static_cast<int64_t>(history.size()) >= *sweep.max_trials) return std::nullopt;
    int64_t next = history.empty() ? 0 : history.back().number + 1;
    auto params = propose(history, next);
    if (!params) return std::nullopt;
    auto ins = db_->prepare( "INSERT INTO sweep_trials (sweep_id, number, state) VALUES (?1, ?2, 'waiting')");
    ins.bind(1, id).bind(2, next).run();
    for (const auto& [key, value] : *params) {
      auto p = db_->prepare( "INSERT INTO sweep_trial_params (sweep_id, number, key, value) VALUES (?1, ?2, ?3, ?4)");
      p.bind(1, id).bind(2, next).bind(3, key).bind(4, value.to_string()).run();
    }
    return next;
  };
  const auto number = pick();
  if (number) {
    auto claim = db_->prepare(
                    "UPDATE sweep_trials SET state = 'running', worker = ?3, lease_until = ?4, "
                    "attempts = attempts + 1, started_at = ?5, message = '' WHERE sweep_id = ?1 AND number = ?2");
    claim.bind(1, id).bind(2, *number).bind(3, worker).bind(4, now + sweep.lease_seconds).bind(5, now).run();
    // A retried trial starts over: its earlier attempt's epochs would mislead the pruner.
    auto clear = db_->prepare( "DELETE FROM sweep_trial_values WHERE sweep_id = ?1 AND number = ?2");
    clear.bind(1, id).bind(2, *number).run();
    for (auto& t : trials(id))
      if (t.number == *number) out = std::move(t);
  }
  });  // committed also when nothing was claimed: the expired leases stay expired
  return out;
}

bool SqlSweepStore::renew_lease(const std::string& id, int64_t number, const std::string& worker) {
  bool owned = false;
  db_->write_transaction([&] {
  lock_sweep(id);
  const auto sweep = require_sweep(id);
  auto s = db_->prepare(
              "UPDATE sweep_trials SET lease_until = ?4 "
              "WHERE sweep_id = ?1 AND number = ?2 AND worker = ?3 AND state = 'running'");
  s.bind(1, id).bind(2, number).bind(3, worker).bind(4, clock_() + sweep.lease_seconds).run();
  owned = db_->changes() == 1;
  });
  return owned;
}

void SqlSweepStore::report_intermediate(const std::string& id, int64_t number, int64_t epoch, double value) {
  auto s = db_->prepare(
              "INSERT INTO sweep_trial_values (sweep_id, number, epoch, value) VALUES (?1, ?2, ?3, ?4) "
              "ON CONFLICT (sweep_id, number, epoch) DO UPDATE SET value = excluded.value");
  s.bind(1, id).bind(2, number).bind(3, epoch).bind(4, value).run();
}

void SqlSweepStore::set_trial_runs(const std::string& id, int64_t number, const std::vector<std::string>& runs) {
  auto s = db_->prepare( "UPDATE sweep_trials SET run_ids = ?3 WHERE sweep_id = ?1 AND number = ?2");
  s.bind(1, id).bind(2, number).bind(3, join_lines(runs)).run();
}

bool SqlSweepStore::finish_trial(const std::string& id, int64_t number, const std::string& worker, TrialState state,
                                    std::optional<double> value, std::optional<int64_t> pruned_epoch,
                                    const std::string& message) {
  if (state == TrialState::Running || state == TrialState::Waiting)
    throw std::logic_error("finish_trial: a trial finishes as complete, pruned, failed, crashed or interrupted");
  auto s = db_->prepare(
              "UPDATE sweep_trials SET state = ?4, value = ?5, pruned_epoch = ?6, message = ?7, finished_at = ?8, "
              "lease_until = NULL WHERE sweep_id = ?1 AND number = ?2 AND worker = ?3 AND state = 'running'");
  s.bind(1, id).bind(2, number).bind(3, worker).bind(4, std::string(trial_state_name(state))).bind(5, value);
  s.bind(6, pruned_epoch).bind(7, message).bind(8, clock_());
  bool owned = false;
  db_->write_transaction([&] {
    s.run();
    owned = db_->changes() == 1;
  });
  return owned;
}

int64_t SqlSweepStore::requeue_interrupted(const std::string& id) {
  auto s = db_->prepare(
              "UPDATE sweep_trials SET state = 'waiting', worker = '', message = 'interrupted; requeued' "
              "WHERE sweep_id = ?1 AND state = 'interrupted'");
  int64_t n = 0;
  db_->write_transaction([&] {
    s.bind(1, id).run();
    n = db_->changes();
  });
  return n;
}

void SqlSweepStore::add_planned_trials(const std::string& id, const std::vector<ParamSet>& params) {
  db_->write_transaction([&] {
    lock_sweep(id);
    auto trial = db_->prepare(
        "INSERT INTO sweep_trials (sweep_id, number, state) VALUES (?1, ?2, 'waiting') "
        "ON CONFLICT (sweep_id, number) DO NOTHING");
    auto param = db_->prepare(
        "INSERT INTO sweep_trial_params (sweep_id, number, key, value) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT (sweep_id, number, key) DO NOTHING");
    for (size_t n = 0; n < params.size(); ++n) {
      trial.bind(1, id).bind(2, static_cast<int64_t>(n)).run();
      for (const auto& [key, value] : params[n])
        param.bind(1, id).bind(2, static_cast<int64_t>(n)).bind(3, key).bind(4, value.to_string()).run();
    }
  });
}

int64_t SqlSweepStore::requeue_unfinished(const std::string& id) {
  int64_t n = 0;
  db_->write_transaction([&] {
    lock_sweep(id);
    auto s = db_->prepare(
        "UPDATE sweep_trials SET state = 'waiting', worker = '', lease_until = NULL, attempts = 0, "
        "message = 'resubmitted after: ' || state WHERE sweep_id = ?1 AND state IN ('failed', 'crashed', 'interrupted')");
    s.bind(1, id).run();
    n = db_->changes();
  });
  return n;
}

std::vector<TrialRecord> SqlSweepStore::trials(const std::string& id) {
  std::vector<TrialRecord> out;
  {
    auto s = db_->prepare(
                "SELECT number, state, value, pruned_epoch, attempts, worker, message, run_ids, started_at, "
                "finished_at FROM sweep_trials WHERE sweep_id = ?1 ORDER BY number");
    s.bind(1, id);
    while (s.step()) {
      TrialRecord t;
      t.number = s.int64(0);
      t.state = parse_trial_state(s.text(1));
      t.value = s.real_or_null(2);
      t.pruned_epoch = s.int64_or_null(3);
      t.attempts = s.int64(4);
      t.worker = s.text(5);
      t.message = s.text(6);
      t.run_ids = split_lines(s.text(7));
      t.started_at = s.real(8);
      t.finished_at = s.real(9);
      out.push_back(std::move(t));
    }
  }
  // Trials are dense from 0, so a number indexes `out` after a lookup table for safety.
  auto at = [&](int64_t number) -> TrialRecord* {
    if (number >= 0 && number < static_cast<int64_t>(out.size()) && out[number].number == number) return &out[number];
    for (auto& t : out)
      if (t.number == number) return &t;
    return nullptr;
  };
  {
    auto s = db_->prepare( "SELECT number, key, value FROM sweep_trial_params WHERE sweep_id = ?1");
    s.bind(1, id);
    while (s.step())
      if (auto* t = at(s.int64(0))) t->params[s.text(1)] = parse_toml_value(s.text(2));
  }
  {
    auto s = db_->prepare( "SELECT number, epoch, value FROM sweep_trial_values WHERE sweep_id = ?1");
    s.bind(1, id);
    while (s.step())
      if (auto* t = at(s.int64(0))) t->intermediate[s.int64(1)] = s.real(2);
  }
  return out;
}

void SqlSweepStore::add_job(const std::string& id, const SweepJob& job) {
  db_->write_transaction([&] {
    db_->prepare(
           "INSERT INTO sweep_jobs (sweep_id, launcher, job_id, tasks, parallel, submitted_at) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .bind(1, id)
        .bind(2, job.launcher)
        .bind(3, job.job_id)
        .bind(4, job.tasks)
        .bind(5, job.parallel)
        .bind(6, job.submitted_at)
        .run();
  });
}

std::vector<SweepJob> SqlSweepStore::jobs(const std::string& id) {
  auto s = db_->prepare(
      "SELECT launcher, job_id, tasks, parallel, submitted_at FROM sweep_jobs WHERE sweep_id = ?1 ORDER BY "
      "submitted_at");
  s.bind(1, id);
  std::vector<SweepJob> out;
  while (s.step()) out.push_back({s.text(0), s.text(1), s.int64(2), s.int64(3), s.real(4)});
  return out;
}

}  // namespace xp::sweeps
