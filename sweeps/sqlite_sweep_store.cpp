#include "sqlite_sweep_store.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <sstream>
#include <stdexcept>

#include <sqlite3.h>

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

class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("sweep store: ") + sqlite3_errmsg(db) + " in: " + sql);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, int64_t v) { return check(sqlite3_bind_int64(stmt_, i, v)); }
  Statement& bind(int i, double v) { return check(sqlite3_bind_double(stmt_, i, v)); }
  Statement& bind(int i, const std::string& v) {
    return check(sqlite3_bind_text(stmt_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  template <typename T>
  Statement& bind(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : check(sqlite3_bind_null(stmt_, i));
  }
  // True while there is a row to read.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw std::runtime_error(std::string("sweep store: ") + sqlite3_errmsg(db_));
  }
  void run() {
    while (step()) {
    }
  }
  bool null(int c) const { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
  int64_t int64(int c) const { return sqlite3_column_int64(stmt_, c); }
  double real(int c) const { return sqlite3_column_double(stmt_, c); }
  std::string text(int c) const {
    const auto* p = sqlite3_column_text(stmt_, c);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  std::optional<int64_t> opt_int64(int c) const { return null(c) ? std::nullopt : std::optional<int64_t>(int64(c)); }
  std::optional<double> opt_real(int c) const { return null(c) ? std::nullopt : std::optional<double>(real(c)); }

 private:
  Statement& check(int rc) {
    if (rc != SQLITE_OK) throw std::runtime_error(std::string("sweep store: ") + sqlite3_errmsg(db_));
    return *this;
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE takes the write lock up front: a claim's read-then-insert cannot interleave with
// another process's. Rolls back unless committed.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) { exec("BEGIN IMMEDIATE"); }
  ~Transaction() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void commit() {
    exec("COMMIT");
    done_ = true;
  }

 private:
  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string m = err ? err : "unknown error";
      sqlite3_free(err);
      throw std::runtime_error("sweep store: " + std::string(sql) + ": " + m);
    }
  }
  sqlite3* db_;
  bool done_ = false;
};

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

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS sweeps (
  id TEXT PRIMARY KEY,
  config_path TEXT NOT NULL,
  config_text TEXT NOT NULL,
  experiment TEXT NOT NULL,
  variant TEXT NOT NULL,
  method TEXT NOT NULL,
  metric TEXT NOT NULL,
  mode TEXT NOT NULL,
  max_trials INTEGER,
  deadline REAL,
  max_retries INTEGER NOT NULL,
  lease_seconds REAL NOT NULL,
  state TEXT NOT NULL,
  created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sweep_trials (
  sweep_id TEXT NOT NULL REFERENCES sweeps(id),
  number INTEGER NOT NULL,
  state TEXT NOT NULL,
  value REAL,
  pruned_epoch INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  worker TEXT NOT NULL DEFAULT '',
  lease_until REAL,
  message TEXT NOT NULL DEFAULT '',
  run_ids TEXT NOT NULL DEFAULT '',
  started_at REAL NOT NULL DEFAULT 0,
  finished_at REAL NOT NULL DEFAULT 0,
  PRIMARY KEY (sweep_id, number)
);
CREATE TABLE IF NOT EXISTS sweep_trial_params (
  sweep_id TEXT NOT NULL,
  number INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (sweep_id, number, key)
);
CREATE TABLE IF NOT EXISTS sweep_trial_values (
  sweep_id TEXT NOT NULL,
  number INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  value REAL NOT NULL,
  PRIMARY KEY (sweep_id, number, epoch)
);
)sql";

SweepRecord read_sweep(const Statement& s) {
  SweepRecord r;
  r.id = s.text(0);
  r.config_path = s.text(1);
  r.config_text = s.text(2);
  r.experiment = s.text(3);
  r.variant = s.text(4);
  r.method = s.text(5);
  r.metric = s.text(6);
  r.direction = s.text(7) == "max" ? Direction::Maximize : Direction::Minimize;
  r.max_trials = s.opt_int64(8);
  r.deadline = s.opt_real(9);
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

double SqliteSweepStore::system_clock() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

SqliteSweepStore::SqliteSweepStore(const fs::path& db, Clock clock)
    : path_(db), clock_(clock ? std::move(clock) : Clock(&SqliteSweepStore::system_clock)) {
  if (db.has_parent_path()) fs::create_directories(db.parent_path());
  if (sqlite3_open_v2(db.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string m = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error("cannot open sweep store '" + db.string() + "': " + m);
  }
  sqlite3_busy_timeout(db_, 30000);
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=NORMAL");
  exec(kSchema);
}

SqliteSweepStore::~SqliteSweepStore() { sqlite3_close(db_); }

void SqliteSweepStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "unknown error";
    sqlite3_free(err);
    throw std::runtime_error("sweep store '" + path_.string() + "': " + m);
  }
}

std::string SqliteSweepStore::create_sweep(const SweepRecord& in) {
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
  Transaction tx(db_);
  Statement s(db_,
              "INSERT INTO sweeps (id, config_path, config_text, experiment, variant, method, metric, mode, "
              "max_trials, deadline, max_retries, lease_seconds, state, created_at) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
  s.bind(1, r.id).bind(2, r.config_path).bind(3, r.config_text).bind(4, r.experiment).bind(5, r.variant);
  s.bind(6, r.method).bind(7, r.metric).bind(8, std::string(direction_name(r.direction))).bind(9, r.max_trials);
  s.bind(10, r.deadline).bind(11, r.max_retries).bind(12, r.lease_seconds);
  s.bind(13, std::string(sweep_state_name(r.state))).bind(14, clock_());
  s.run();
  tx.commit();
  return r.id;
}

std::optional<SweepRecord> SqliteSweepStore::find_sweep(const std::string& id) {
  Statement s(db_, (std::string(kSweepColumns) + " WHERE id = ?1").c_str());
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_sweep(s);
}

std::vector<SweepRecord> SqliteSweepStore::list_sweeps() {
  Statement s(db_, (std::string(kSweepColumns) + " ORDER BY created_at").c_str());
  std::vector<SweepRecord> out;
  while (s.step()) out.push_back(read_sweep(s));
  return out;
}

SweepRecord SqliteSweepStore::require_sweep(const std::string& id) {
  auto r = find_sweep(id);
  if (!r) throw std::runtime_error("no sweep '" + id + "' in " + path_.string());
  return *r;
}

void SqliteSweepStore::set_sweep_state(const std::string& id, SweepState state) {
  Statement s(db_, "UPDATE sweeps SET state = ?2 WHERE id = ?1");
  s.bind(1, id).bind(2, std::string(sweep_state_name(state))).run();
}

void SqliteSweepStore::set_deadline(const std::string& id, std::optional<double> deadline) {
  Statement s(db_, "UPDATE sweeps SET deadline = ?2 WHERE id = ?1");
  s.bind(1, id).bind(2, deadline).run();
}

int64_t SqliteSweepStore::expire_leases_locked(const SweepRecord& sweep, double now) {
  Statement crash(db_,
                  "UPDATE sweep_trials SET state = 'crashed', lease_until = NULL, finished_at = ?2, "
                  "message = 'its worker stopped renewing the lease ' || attempts || ' times' "
                  "WHERE sweep_id = ?1 AND state = 'running' AND lease_until < ?2 AND attempts > ?3");
  crash.bind(1, sweep.id).bind(2, now).bind(3, sweep.max_retries).run();
  int64_t changed = sqlite3_changes(db_);
  Statement retry(db_,
                  "UPDATE sweep_trials SET state = 'waiting', lease_until = NULL, worker = '', "
                  "message = 'lease expired; retrying' "
                  "WHERE sweep_id = ?1 AND state = 'running' AND lease_until < ?2");
  retry.bind(1, sweep.id).bind(2, now).run();
  return changed + sqlite3_changes(db_);
}

int64_t SqliteSweepStore::expire_leases(const std::string& id) {
  Transaction tx(db_);
  auto sweep = require_sweep(id);
  int64_t n = expire_leases_locked(sweep, clock_());
  tx.commit();
  return n;
}

std::optional<TrialRecord> SqliteSweepStore::claim_trial(const std::string& id, const std::string& worker,
                                                         const Proposer& propose) {
  Transaction tx(db_);
  const auto sweep = require_sweep(id);
  const double now = clock_();
  expire_leases_locked(sweep, now);

  // The trial to hand out: the lowest waiting one, else a new one while the budget allows.
  auto pick = [&]() -> std::optional<int64_t> {
    if (sweep.state != SweepState::Running || (sweep.deadline && now >= *sweep.deadline)) return std::nullopt;
    Statement s(db_, "SELECT number FROM sweep_trials WHERE sweep_id = ?1 AND state = 'waiting' ORDER BY number LIMIT 1");
    s.bind(1, id);
    if (s.step()) return s.int64(0);
    auto history = trials(id);
    if (sweep.max_trials && static_cast<int64_t>(history.size()) >= *sweep.max_trials) return std::nullopt;
    int64_t next = history.empty() ? 0 : history.back().number + 1;
    auto params = propose(history, next);
    if (!params) return std::nullopt;
    Statement ins(db_, "INSERT INTO sweep_trials (sweep_id, number, state) VALUES (?1, ?2, 'waiting')");
    ins.bind(1, id).bind(2, next).run();
    for (const auto& [key, value] : *params) {
      Statement p(db_, "INSERT INTO sweep_trial_params (sweep_id, number, key, value) VALUES (?1, ?2, ?3, ?4)");
      p.bind(1, id).bind(2, next).bind(3, key).bind(4, value.to_string()).run();
    }
    return next;
  };
  const auto number = pick();
  std::optional<TrialRecord> out;
  if (number) {
    Statement claim(db_,
                    "UPDATE sweep_trials SET state = 'running', worker = ?3, lease_until = ?4, "
                    "attempts = attempts + 1, started_at = ?5, message = '' WHERE sweep_id = ?1 AND number = ?2");
    claim.bind(1, id).bind(2, *number).bind(3, worker).bind(4, now + sweep.lease_seconds).bind(5, now).run();
    // A retried trial starts over: its earlier attempt's epochs would mislead the pruner.
    Statement clear(db_, "DELETE FROM sweep_trial_values WHERE sweep_id = ?1 AND number = ?2");
    clear.bind(1, id).bind(2, *number).run();
    for (auto& t : trials(id))
      if (t.number == *number) out = std::move(t);
  }
  tx.commit();  // also when nothing was claimed: the expired leases stay expired
  return out;
}

bool SqliteSweepStore::renew_lease(const std::string& id, int64_t number, const std::string& worker) {
  Transaction tx(db_);
  const auto sweep = require_sweep(id);
  Statement s(db_,
              "UPDATE sweep_trials SET lease_until = ?4 "
              "WHERE sweep_id = ?1 AND number = ?2 AND worker = ?3 AND state = 'running'");
  s.bind(1, id).bind(2, number).bind(3, worker).bind(4, clock_() + sweep.lease_seconds).run();
  bool owned = sqlite3_changes(db_) == 1;
  tx.commit();
  return owned;
}

void SqliteSweepStore::report_intermediate(const std::string& id, int64_t number, int64_t epoch, double value) {
  Statement s(db_,
              "INSERT INTO sweep_trial_values (sweep_id, number, epoch, value) VALUES (?1, ?2, ?3, ?4) "
              "ON CONFLICT (sweep_id, number, epoch) DO UPDATE SET value = excluded.value");
  s.bind(1, id).bind(2, number).bind(3, epoch).bind(4, value).run();
}

void SqliteSweepStore::set_trial_runs(const std::string& id, int64_t number, const std::vector<std::string>& runs) {
  Statement s(db_, "UPDATE sweep_trials SET run_ids = ?3 WHERE sweep_id = ?1 AND number = ?2");
  s.bind(1, id).bind(2, number).bind(3, join_lines(runs)).run();
}

bool SqliteSweepStore::finish_trial(const std::string& id, int64_t number, const std::string& worker, TrialState state,
                                    std::optional<double> value, std::optional<int64_t> pruned_epoch,
                                    const std::string& message) {
  if (state == TrialState::Running || state == TrialState::Waiting)
    throw std::logic_error("finish_trial: a trial finishes as complete, pruned, failed, crashed or interrupted");
  Statement s(db_,
              "UPDATE sweep_trials SET state = ?4, value = ?5, pruned_epoch = ?6, message = ?7, finished_at = ?8, "
              "lease_until = NULL WHERE sweep_id = ?1 AND number = ?2 AND worker = ?3 AND state = 'running'");
  s.bind(1, id).bind(2, number).bind(3, worker).bind(4, std::string(trial_state_name(state))).bind(5, value);
  s.bind(6, pruned_epoch).bind(7, message).bind(8, clock_()).run();
  return sqlite3_changes(db_) == 1;
}

int64_t SqliteSweepStore::requeue_interrupted(const std::string& id) {
  Statement s(db_,
              "UPDATE sweep_trials SET state = 'waiting', worker = '', message = 'interrupted; requeued' "
              "WHERE sweep_id = ?1 AND state = 'interrupted'");
  s.bind(1, id).run();
  return sqlite3_changes(db_);
}

std::vector<TrialRecord> SqliteSweepStore::trials(const std::string& id) {
  std::vector<TrialRecord> out;
  {
    Statement s(db_,
                "SELECT number, state, value, pruned_epoch, attempts, worker, message, run_ids, started_at, "
                "finished_at FROM sweep_trials WHERE sweep_id = ?1 ORDER BY number");
    s.bind(1, id);
    while (s.step()) {
      TrialRecord t;
      t.number = s.int64(0);
      t.state = parse_trial_state(s.text(1));
      t.value = s.opt_real(2);
      t.pruned_epoch = s.opt_int64(3);
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
    Statement s(db_, "SELECT number, key, value FROM sweep_trial_params WHERE sweep_id = ?1");
    s.bind(1, id);
    while (s.step())
      if (auto* t = at(s.int64(0))) t->params[s.text(1)] = parse_toml_value(s.text(2));
  }
  {
    Statement s(db_, "SELECT number, epoch, value FROM sweep_trial_values WHERE sweep_id = ?1");
    s.bind(1, id);
    while (s.step())
      if (auto* t = at(s.int64(0))) t->intermediate[s.int64(1)] = s.real(2);
  }
  return out;
}

}  // namespace xp::sweeps
