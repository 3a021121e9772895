#include "run_registry.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <random>
#include <set>
#include <sstream>

#include "param_value.h"
#include "registry_schema.h"
#include "sql_db.h"
#include "xp/base/suggest.h"
#include "xp/base/sha256.h"
#include "where_expr.h"
#include "xp/errors.h"

namespace fs = std::filesystem;

namespace xp {
namespace {

constexpr double kHeartbeatEvery_s = 5.0;  // heartbeat() writes at most this often per run

std::string base36(uint64_t v, size_t width) {
  const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string s;
  do {
    s.insert(s.begin(), digits[v % 36]);
    v /= 36;
  } while (v);
  if (s.size() < width) s.insert(0, width - s.size(), '0');
  return s;
}

void bind_args(sql::Statement& st, const std::vector<registry::SqlArg>& args, int first = 1) {
  int i = first;
  for (const auto& a : args) {
    if (auto p = std::get_if<int64_t>(&a)) st.bind(i, *p);
    else if (auto d = std::get_if<double>(&a)) st.bind(i, *d);
    else st.bind(i, std::get<std::string>(a));
    ++i;
  }
}

const char* kRunColumns =
    "r.rid, r.id, r.experiment, r.variant, r.seed, r.status, r.message, r.start_time, r.end_time, r.duration, "
    "r.heartbeat, r.host, r.pid, r.command_line, r.xp_version, r.torch_version, r.cuda_version, r.device, "
    "r.git_commit, r.git_dirty, r.git_diff, r.config_hash, r.config_text, r.run_dir";

// Listings leave out the two large text columns; get_run reads them.
const char* kListColumns =
    "r.rid, r.id, r.experiment, r.variant, r.seed, r.status, r.message, r.start_time, r.end_time, r.duration, "
    "r.heartbeat, r.host, r.pid, r.command_line, r.xp_version, r.torch_version, r.cuda_version, r.device, "
    "r.git_commit, r.git_dirty, '', r.config_hash, '', r.run_dir";

RunRecord read_run(const sql::Statement& st) {
  RunRecord r;
  r.rid = st.int64(0);
  r.id = st.text(1);
  r.info.experiment = st.text(2);
  r.info.variant = st.text(3);
  r.info.seed = st.int64(4);
  r.status = parse_run_status(st.text(5)).value_or(RunStatus::Crashed);
  r.message = st.text(6);
  r.start_time = st.real(7);
  r.end_time = st.real_or_null(8);
  r.duration = st.real_or_null(9);
  r.heartbeat = st.real_or_null(10);
  r.info.host = st.text(11);
  r.info.pid = st.int64(12);
  r.info.command_line = st.text(13);
  r.info.xp_version = st.text(14);
  r.info.torch_version = st.text(15);
  r.info.cuda_version = st.text(16);
  r.info.device = st.text(17);
  r.info.git_commit = st.text(18);
  r.info.git_dirty = st.int64(19) != 0;
  r.info.git_diff = st.text(20);
  r.info.config_hash = st.text(21);
  r.info.config_text = st.text(22);
  r.info.run_dir = st.text(23);
  return r;
}

bool process_alive(int64_t pid) {
  if (pid <= 0) return true;  // unknown: only the heartbeat can tell
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH;
}

}  // namespace

bool is_registry_url(const std::string& location) { return sql::is_postgres_url(location); }

fs::path default_run_root(const fs::path& registry) {
  if (is_registry_url(registry.string())) {
    if (const char* env = std::getenv("XP_RUN_ROOT"); env && *env) return fs::absolute(env);
    return fs::absolute("xp-runs");
  }
  return fs::absolute(registry).parent_path();
}

std::string registry_argument(const fs::path& registry) {
  if (is_registry_url(registry.string())) return registry.string();
  return fs::absolute(registry).string();
}

fs::path default_registry_path() {
  if (const char* env = std::getenv("XP_REGISTRY"); env && *env) return env;
  return fs::path("xp-runs") / "registry.db";
}

fs::path existing_registry_path(const std::string& option) {
  fs::path path = option.empty() ? default_registry_path() : fs::path(option);
  if (is_registry_url(path.string())) return path;  // the server says whether it exists
  if (!fs::exists(path))
    throw ConfigError("no registry at " + path.string() +
                      " (run `xp run` first, or pass --registry PATH / set XP_REGISTRY)");
  return path;
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string current_host() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

std::string new_run_id() {
  // The tail is random per process (processes starting in the same millisecond differ) and
  // counts up within it (ids drawn in one process never collide).
  constexpr uint64_t kTail = 36ull * 36 * 36 * 36 * 36 * 36;
  static std::atomic<uint64_t> counter{std::random_device{}() ^ (static_cast<uint64_t>(::getpid()) << 20)};
  auto ms = static_cast<uint64_t>(unix_now() * 1000.0);
  return "r" + base36(ms, 8) + base36(counter.fetch_add(1) % kTail, 6);
}

std::map<std::string, double> RunRecord::metrics() const {
  auto all = finals;
  for (const auto& [k, v] : summary) all[k] = v;
  return all;
}

RunRegistry::RunRegistry(const fs::path& path) : path_(path), host_(current_host()) {
  const bool url = is_registry_url(path_.string());
  if (!url && path_.has_parent_path()) fs::create_directories(path_.parent_path());
  db_ = sql::shared_database(path_.string());
  if (url) path_ = db_->path();  // no password in messages
  registry::ensure_schema(*db_);
}

RunRegistry::~RunRegistry() {
  try {
    std::lock_guard lock(mutex_);
    flush_locked();
  } catch (...) {
    // A destructor must not throw; the metrics of the last second are lost at worst.
  }
}

int64_t RunRegistry::rid_of(const std::string& run_id) {
  if (auto it = rids_.find(run_id); it != rids_.end()) return it->second;
  auto st = db_->prepare("SELECT rid FROM runs WHERE id = ?1");
  st.bind(1, run_id);
  if (!st.step()) throw std::invalid_argument("no run with id '" + run_id + "' in " + path_.string());
  return rids_[run_id] = st.int64(0);
}

std::string RunRegistry::begin(const RunInfo& info) {
  std::lock_guard lock(mutex_);
  flush_locked();
  std::string id;
  int64_t rid = 0;
  double now = unix_now();
  for (int attempt = 0;; ++attempt) {
    id = new_run_id();
    std::string run_dir = info.run_dir;
    if (run_dir.empty()) {
      run_dir = (default_run_root(path_) / info.experiment / id).lexically_normal().string();
    } else {
      for (size_t p; (p = run_dir.find("{id}")) != std::string::npos;) run_dir.replace(p, 4, id);
      run_dir = fs::absolute(run_dir).lexically_normal().string();
    }
    try {
      db_->write_transaction([&] {
        auto st = db_->prepare(
            "INSERT INTO runs(id, experiment, variant, seed, status, start_time, heartbeat, host, pid, command_line, "
            "xp_version, torch_version, cuda_version, device, git_commit, git_dirty, git_diff, config_hash, "
            "config_text, run_dir) VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
            "?14, ?15, ?16, ?17, ?18)");
        st.bind(1, id).bind(2, info.experiment).bind(3, info.variant).bind(4, info.seed).bind(5, now);
        st.bind(6, info.host.empty() ? host_ : info.host).bind(7, info.pid ? info.pid : int64_t(::getpid()));
        st.bind(8, info.command_line).bind(9, info.xp_version).bind(10, info.torch_version);
        st.bind(11, info.cuda_version).bind(12, info.device).bind(13, info.git_commit);
        st.bind(14, int64_t(info.git_dirty)).bind(15, info.git_diff).bind(16, info.config_hash);
        st.bind(17, info.config_text).bind(18, run_dir);
        st.run();
        rid = db_->last_insert_rowid();
        auto param = db_->prepare(
            "INSERT INTO params(rid, key, value, num) VALUES (?1, ?2, ?3, ?4) "
            "ON CONFLICT(rid, key) DO UPDATE SET value = excluded.value, num = excluded.num");
        for (const auto& [k, v] : info.params) {
          param.bind(1, rid).bind(2, k).bind(3, registry::param_text(v)).bind(4, registry::param_number(v));
          param.run();
        }
        auto tag = db_->prepare(
            "INSERT INTO tags(rid, key, value) VALUES (?1, ?2, ?3) ON CONFLICT(rid, key) DO UPDATE SET value = "
            "excluded.value");
        for (const auto& [k, v] : info.tags) {
          tag.bind(1, rid).bind(2, k).bind(3, v);
          tag.run();
        }
      });
      break;
    } catch (const sql::Error& e) {
      // Two processes drew the same id in the same millisecond: draw again.
      if (e.kind() != sql::Error::Kind::Constraint || attempt > 5) throw;
    }
  }
  rids_[id] = rid;
  last_heartbeat_[id] = now;
  return id;
}

void RunRegistry::resume(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  flush_locked();
  int64_t rid = rid_of(run_id);
  double now = unix_now();
  db_->write_transaction([&] {
    auto st = db_->prepare(
        "UPDATE runs SET status = 'running', message = '', end_time = NULL, duration = NULL, heartbeat = ?2, "
        "host = ?3, pid = ?4 WHERE rid = ?1");
    st.bind(1, rid).bind(2, now).bind(3, host_).bind(4, int64_t(::getpid()));
    st.run();
  });
  resumed_.insert(run_id);
  last_heartbeat_[run_id] = now;
}

void RunRegistry::log_metrics(const std::string& run_id, int64_t epoch, int64_t step,
                              const std::map<std::string, double>& values) {
  std::lock_guard lock(mutex_);
  double now = unix_now();
  for (const auto& [name, value] : values) pending_.push_back({run_id, name, epoch, step, value, now});
  if (now - last_flush_ >= flush_interval_s_ || pending_.size() >= 10000) flush_locked();
}

void RunRegistry::flush() {
  std::lock_guard lock(mutex_);
  flush_locked();
}

void RunRegistry::flush_locked() {
  if (pending_.empty()) {
    last_flush_ = unix_now();
    return;
  }
  std::map<std::string, int64_t> rids;
  for (const auto& m : pending_) rids.emplace(m.run_id, rid_of(m.run_id));
  double now = unix_now();
  db_->write_transaction([&] {
    // A resumed run re-logs epochs after its checkpoint: the earlier attempt's values for those
    // epochs (and any later ones) belong to an abandoned timeline.
    for (auto it = resumed_.begin(); it != resumed_.end();) {
      int64_t first_epoch = INT64_MAX;
      for (const auto& m : pending_)
        if (m.run_id == *it) first_epoch = std::min(first_epoch, m.epoch);
      if (first_epoch == INT64_MAX) {
        ++it;
        continue;
      }
      int64_t rid = rids.at(*it);
      db_->prepare("DELETE FROM metrics WHERE rid = ?1 AND epoch >= ?2").bind(1, rid).bind(2, first_epoch).run();
      db_->prepare("DELETE FROM metric_stats WHERE rid = ?1").bind(1, rid).run();
      db_->prepare(
             "INSERT INTO metric_stats(rid, name, n, last_epoch, last_step, final, min, max) "
             "SELECT rid, name, COUNT(*), MAX(epoch), 0, NULL, MIN(value), MAX(value) FROM metrics WHERE rid = ?1 "
             "GROUP BY rid, name")
          .bind(1, rid)
          .run();
      db_->prepare(
             "UPDATE metric_stats SET last_step = (SELECT MAX(step) FROM metrics m WHERE m.rid = metric_stats.rid "
             "AND m.name = metric_stats.name AND m.epoch = metric_stats.last_epoch), final = (SELECT value FROM "
             "metrics m WHERE m.rid = metric_stats.rid AND m.name = metric_stats.name AND m.epoch = "
             "metric_stats.last_epoch ORDER BY step DESC LIMIT 1) WHERE rid = ?1")
          .bind(1, rid)
          .run();
      it = resumed_.erase(it);
    }
    auto insert = db_->prepare(
        "INSERT INTO metrics(rid, name, epoch, step, value, time) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
        "ON CONFLICT(rid, name, epoch, step) DO UPDATE SET value = excluded.value, time = excluded.time");
    // Statistics are kept up to date on every write so that queries never scan the metrics table.
    // NaN (a diverged loss) is stored as NULL by SQLite and ignored by min/max.
    // Every right-hand side sees the row as it was (both dialects), so `final` compares against the
    // old last_epoch. Columns are qualified: PostgreSQL needs it where `excluded` is in scope.
    const std::string newer =
        "excluded.last_epoch > metric_stats.last_epoch OR (excluded.last_epoch = metric_stats.last_epoch AND "
        "excluded.last_step >= metric_stats.last_step)";
    auto stats = db_->prepare(
        "INSERT INTO metric_stats(rid, name, n, last_epoch, last_step, final, min, max) "
        "VALUES (?1, ?2, 1, ?3, ?4, ?5, ?5, ?5) ON CONFLICT(rid, name) DO UPDATE SET "
        "n = metric_stats.n + 1, "
        "final = CASE WHEN " + newer + " THEN excluded.final ELSE metric_stats.final END, "
        "last_step = CASE WHEN " + newer + " THEN excluded.last_step ELSE metric_stats.last_step END, "
        "last_epoch = " + db_->greatest("metric_stats.last_epoch", "excluded.last_epoch") + ", "
        "min = " + db_->least("metric_stats.min", "excluded.min") + ", "
        "max = " + db_->greatest("metric_stats.max", "excluded.max"));
    for (const auto& m : pending_) {
      int64_t rid = rids.at(m.run_id);
      insert.bind(1, rid).bind(2, m.name).bind(3, m.epoch).bind(4, m.step).bind(5, m.value).bind(6, m.time);
      insert.run();
      stats.bind(1, rid).bind(2, m.name).bind(3, m.epoch).bind(4, m.step).bind(5, m.value);
      stats.run();
    }
    auto beat = db_->prepare("UPDATE runs SET heartbeat = ?2 WHERE rid = ?1");
    for (const auto& [id, rid] : rids) {
      beat.bind(1, rid).bind(2, now);
      beat.run();
      last_heartbeat_[id] = now;
    }
  });
  pending_.clear();
  last_flush_ = now;
}

void RunRegistry::set_summary(const std::string& run_id, const std::map<std::string, double>& values) {
  std::lock_guard lock(mutex_);
  flush_locked();
  int64_t rid = rid_of(run_id);
  db_->write_transaction([&] {
    auto st = db_->prepare(
        "INSERT INTO summary(rid, name, value, seq) VALUES (?1, ?2, ?3, "
        "(SELECT COALESCE(MAX(seq), 0) + 1 FROM summary WHERE rid = ?1)) "
        "ON CONFLICT(rid, name) DO UPDATE SET value = excluded.value");
    for (const auto& [name, value] : values) {
      st.bind(1, rid).bind(2, name).bind(3, value);
      st.run();
    }
  });
}

void RunRegistry::add_artifact(const std::string& run_id, const std::string& path, const std::string& kind) {
  std::lock_guard lock(mutex_);
  flush_locked();
  int64_t rid = rid_of(run_id);
  std::string absolute = fs::absolute(path).lexically_normal().string();
  int64_t size = -1;
  std::string digest;
  std::error_code ec;
  if (fs::is_regular_file(absolute, ec)) {
    size = static_cast<int64_t>(fs::file_size(absolute, ec));
    digest = sha256_file(absolute);
  }
  db_->write_transaction([&] {
    auto st = db_->prepare(
        "INSERT INTO artifacts(rid, path, kind, size, sha256, time) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
        "ON CONFLICT(rid, path) DO UPDATE SET kind = excluded.kind, size = excluded.size, sha256 = excluded.sha256, "
        "time = excluded.time");
    st.bind(1, rid).bind(2, absolute).bind(3, kind).bind(5, digest).bind(6, unix_now());
    if (size >= 0) st.bind(4, size);
    else st.bind_null(4);
    st.run();
  });
}

void RunRegistry::set_tag(const std::string& run_id, const std::string& key, const std::string& value) {
  std::lock_guard lock(mutex_);
  flush_locked();
  int64_t rid = rid_of(run_id);
  db_->write_transaction([&] {
    db_->prepare("INSERT INTO tags(rid, key, value) VALUES (?1, ?2, ?3) ON CONFLICT(rid, key) DO UPDATE SET value = "
                 "excluded.value")
        .bind(1, rid)
        .bind(2, key)
        .bind(3, value)
        .run();
  });
}

void RunRegistry::heartbeat(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  double now = unix_now();
  if (now - last_heartbeat_[run_id] < kHeartbeatEvery_s) return;
  if (!pending_.empty()) {
    flush_locked();  // also beats
    return;
  }
  int64_t rid = rid_of(run_id);
  db_->write_transaction([&] { db_->prepare("UPDATE runs SET heartbeat = ?2 WHERE rid = ?1").bind(1, rid).bind(2, now).run(); });
  last_heartbeat_[run_id] = now;
}

void RunRegistry::finish(const std::string& run_id, RunStatus status, const std::string& message) {
  std::lock_guard lock(mutex_);
  flush_locked();
  int64_t rid = rid_of(run_id);
  double now = unix_now();
  db_->write_transaction([&] {
    db_->prepare(
           "UPDATE runs SET status = ?2, message = ?3, end_time = ?4, heartbeat = ?4, duration = ?4 - start_time "
           "WHERE rid = ?1")
        .bind(1, rid)
        .bind(2, run_status_name(status))
        .bind(3, message)
        .bind(4, now)
        .run();
  });
  resumed_.erase(run_id);
}

std::vector<std::string> RunRegistry::mark_stale_runs_crashed(double stale_after_s) {
  std::lock_guard lock(mutex_);
  flush_locked();
  struct Candidate {
    int64_t rid;
    std::string id, message;
    std::optional<double> heartbeat;
  };
  std::vector<Candidate> stale;
  double now = unix_now();
  auto st = db_->prepare("SELECT rid, id, host, pid, heartbeat, start_time FROM runs WHERE status = 'running'");
  while (st.step()) {
    Candidate c{st.int64(0), st.text(1), "", st.real_or_null(4)};
    double last = c.heartbeat.value_or(st.real(5));
    std::string host = st.text(2);
    int64_t pid = st.int64(3);
    if (host == host_ && !process_alive(pid)) {
      c.message = "process " + std::to_string(pid) + " on " + host + " ended without finishing the run";
    } else if (now - last > stale_after_s) {
      std::ostringstream os;
      os << "no heartbeat for " << static_cast<int64_t>(now - last) << " s (process " << pid << " on " << host << ")";
      c.message = os.str();
    } else {
      continue;
    }
    stale.push_back(c);
  }
  std::vector<std::string> marked;
  if (stale.empty()) return marked;
  db_->write_transaction([&] {
    // The heartbeat must be unchanged since it was read, so a run that just proved alive stays running.
    auto update = db_->prepare(
        "UPDATE runs SET status = 'crashed', message = ?2, end_time = COALESCE(heartbeat, start_time), "
        "duration = COALESCE(heartbeat, start_time) - start_time "
        "WHERE rid = ?1 AND status = 'running' AND heartbeat " +
        std::string(db_->dialect() == sql::Dialect::Postgres ? "IS NOT DISTINCT FROM" : "IS") + " ?3");
    for (const auto& c : stale) {
      update.bind(1, c.rid).bind(2, c.message).bind(3, c.heartbeat);
      update.run();
      if (db_->changes() > 0) marked.push_back(c.id);
    }
  });
  return marked;
}

void RunRegistry::fill_details(std::vector<RunRecord>& runs) {
  if (runs.empty()) return;
  std::map<int64_t, RunRecord*> by_rid;
  for (auto& r : runs) by_rid[r.rid] = &r;
  // rids are integers read from the database, so pasting them into IN (...) is safe; chunks keep
  // each statement well under SQLite's expression limits.
  std::vector<int64_t> all;
  for (const auto& [rid, r] : by_rid) all.push_back(rid);
  for (size_t begin = 0; begin < all.size(); begin += 500) {
    std::string in;
    for (size_t i = begin; i < std::min(all.size(), begin + 500); ++i) in += (in.empty() ? "" : ",") + std::to_string(all[i]);
    auto summary = db_->prepare("SELECT rid, name, value FROM summary WHERE rid IN (" + in + ") ORDER BY rid, seq");
    while (summary.step()) {
      auto* r = by_rid.at(summary.int64(0));
      std::string name = summary.text(1);
      r->summary[name] = summary.is_null(2) ? std::numeric_limits<double>::quiet_NaN() : summary.real(2);
      r->summary_order.push_back(name);
    }
    auto finals = db_->prepare("SELECT rid, name, final FROM metric_stats WHERE rid IN (" + in + ")");
    while (finals.step())
      by_rid.at(finals.int64(0))->finals[finals.text(1)] =
          finals.is_null(2) ? std::numeric_limits<double>::quiet_NaN() : finals.real(2);
    auto tags = db_->prepare("SELECT rid, key, value FROM tags WHERE rid IN (" + in + ")");
    while (tags.step()) by_rid.at(tags.int64(0))->info.tags[tags.text(1)] = tags.text(2);
  }
}

std::vector<RunRecord> RunRegistry::list_runs(const RunQuery& query) {
  std::lock_guard lock(mutex_);
  flush_locked();
  std::string sql = std::string("SELECT ") + kListColumns + " FROM runs r WHERE 1 = 1";
  std::vector<registry::SqlArg> args;
  if (!query.experiment.empty()) {
    sql += " AND r.experiment = ?";
    args.emplace_back(query.experiment);
  }
  if (!query.statuses.empty()) {
    sql += " AND r.status IN (";
    for (size_t i = 0; i < query.statuses.size(); ++i) {
      sql += i ? ", ?" : "?";
      args.emplace_back(query.statuses[i]);
    }
    sql += ")";
  }
  if (!query.where.empty()) {
    auto where = registry::compile_where(query.where, db_->dialect());
    registry::check_where_names(query.where, where, known_names(query.experiment));
    sql += " AND " + where.sql;
    args.insert(args.end(), where.args.begin(), where.args.end());
  }
  std::string key = query.sort.empty() ? "-start" : query.sort;
  bool descending = key[0] == '-';
  if (key[0] == '-' || key[0] == '+') key = key.substr(1);
  sql += " ORDER BY ";
  for (const auto& order : registry::field_sort_keys(key, db_->dialect())) {
    sql += order.sql + (descending ? " DESC" : " ASC") + " NULLS LAST, ";
    args.insert(args.end(), order.args.begin(), order.args.end());
  }
  sql += std::string("r.rid") + (descending ? " DESC" : " ASC");
  if (query.limit > 0) sql += " LIMIT " + std::to_string(query.limit);
  std::vector<RunRecord> runs;
  db_->read_transaction([&] {
    auto st = db_->prepare(sql);
    bind_args(st, args);
    while (st.step()) runs.push_back(read_run(st));
    fill_details(runs);
  });
  return runs;
}

std::optional<RunRecord> RunRegistry::get_run(const std::string& id) {
  std::lock_guard lock(mutex_);
  flush_locked();
  std::optional<RunRecord> out;
  db_->read_transaction([&] {
    auto st = db_->prepare(std::string("SELECT ") + kRunColumns + " FROM runs r WHERE r.id = ?1");
    st.bind(1, id);
    if (!st.step()) return;
    std::vector<RunRecord> one{read_run(st)};
    fill_details(one);
    auto params = db_->prepare("SELECT key, value FROM params WHERE rid = ?1");
    params.bind(1, one[0].rid);
    while (params.step()) one[0].info.params[params.text(0)] = params.text(1);
    out = std::move(one[0]);
  });
  return out;
}

RunRecord RunRegistry::find_run(const std::string& key) {
  std::lock_guard lock(mutex_);
  if (key.empty()) throw ConfigError("empty run id");
  if (auto run = get_run(key)) return *run;
  // A run folder, or any path inside it (e.g. its checkpoints/last.pt).
  std::error_code ec;
  bool looks_like_path = key.find('/') != std::string::npos || fs::exists(key, ec);
  if (looks_like_path) {
    for (fs::path p = fs::absolute(key).lexically_normal(); !p.empty(); p = p.parent_path()) {
      std::string dir = p.string();
      while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
      auto st = db_->prepare("SELECT id FROM runs WHERE run_dir = ?1 ORDER BY rid DESC LIMIT 1");
      st.bind(1, dir);
      if (st.step()) return *get_run(st.text(0));
      if (fs::weakly_canonical(p, ec).string() != dir && !ec) {
        auto canon = db_->prepare("SELECT id FROM runs WHERE run_dir = ?1 ORDER BY rid DESC LIMIT 1");
        canon.bind(1, fs::weakly_canonical(p, ec).string());
        if (canon.step()) return *get_run(canon.text(0));
      }
      if (p == p.parent_path()) break;
    }
    // The folder name is the id: a registry moved with its runs still resolves.
    std::string base = fs::path(key).lexically_normal().filename().string();
    if (base.empty()) base = fs::path(key).lexically_normal().parent_path().filename().string();
    if (auto run = get_run(base)) return *run;
  }
  std::vector<std::string> matches;
  {
    // A range keeps SQLite on the index; PostgreSQL's collation may not order "\x7f" last.
    auto st = db_->prepare(db_->dialect() == sql::Dialect::Postgres
                               ? "SELECT id FROM runs WHERE substr(id, 1, length(?1)) = ?1 ORDER BY id LIMIT 6"
                               : "SELECT id FROM runs WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT 6");
    st.bind(1, key);
    if (db_->dialect() == sql::Dialect::Sqlite) st.bind(2, key + "\x7f");
    while (st.step()) matches.push_back(st.text(0));
  }
  if (matches.size() == 1) return *get_run(matches[0]);
  if (matches.size() > 1) {
    std::string list;
    for (size_t i = 0; i < std::min<size_t>(matches.size(), 5); ++i) list += (i ? ", " : "") + matches[i];
    throw ConfigError("run id prefix '" + key + "' is ambiguous: it matches " + list +
                      (matches.size() > 5 ? ", ..." : ""));
  }
  std::vector<std::string> ids;
  {
    auto st = db_->prepare("SELECT id FROM runs ORDER BY rid DESC LIMIT 5000");
    while (st.step()) ids.push_back(st.text(0));
  }
  throw ConfigError("no run '" + key + "' in " + path_.string() + did_you_mean(key, ids) +
                    (looks_like_path ? " (no run has that folder)" : ""));
}

std::vector<MetricPoint> RunRegistry::metric_history(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  flush_locked();
  std::vector<MetricPoint> out;
  auto st = db_->prepare("SELECT name, epoch, step, value, time FROM metrics WHERE rid = ?1 ORDER BY epoch, step, name");
  st.bind(1, rid_of(run_id));
  while (st.step())
    out.push_back({st.text(0), st.int64(1), st.int64(2),
                   st.is_null(3) ? std::numeric_limits<double>::quiet_NaN() : st.real(3), st.real(4)});
  return out;
}

std::vector<MetricStats> RunRegistry::metric_stats(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  flush_locked();
  std::vector<MetricStats> out;
  auto st = db_->prepare("SELECT name, n, last_epoch, final, min, max FROM metric_stats WHERE rid = ?1 ORDER BY name");
  st.bind(1, rid_of(run_id));
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  while (st.step())
    out.push_back({st.text(0), st.int64(1), st.int64(2), st.real_or_null(3).value_or(nan),
                   st.real_or_null(4).value_or(nan), st.real_or_null(5).value_or(nan)});
  return out;
}

std::vector<ArtifactRecord> RunRegistry::artifacts(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  std::vector<ArtifactRecord> out;
  auto st = db_->prepare("SELECT path, kind, sha256, size, time FROM artifacts WHERE rid = ?1 ORDER BY time, path");
  st.bind(1, rid_of(run_id));
  while (st.step()) out.push_back({st.text(0), st.text(1), st.text(2), st.is_null(3) ? -1 : st.int64(3), st.real(4)});
  return out;
}

std::vector<std::string> RunRegistry::experiments() {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  auto st = db_->prepare("SELECT DISTINCT experiment FROM runs ORDER BY experiment");
  while (st.step()) out.push_back(st.text(0));
  return out;
}

registry::KnownNames RunRegistry::known_names(const std::string& experiment) {
  std::lock_guard lock(mutex_);
  flush_locked();
  registry::KnownNames out;
  const std::string scope = " JOIN runs r ON r.rid = x.rid WHERE ?1 = '' OR r.experiment = ?1";
  auto metrics = db_->prepare("SELECT name FROM summary x" + scope + " UNION SELECT name FROM metric_stats x" + scope +
                              " ORDER BY 1");
  metrics.bind(1, experiment);
  while (metrics.step()) out.metrics.push_back(metrics.text(0));
  auto params = db_->prepare("SELECT DISTINCT key FROM params x" + scope + " ORDER BY 1");
  params.bind(1, experiment);
  while (params.step()) out.params.push_back(params.text(0));
  return out;
}

std::unique_ptr<RunRegistry> open_run_registry(const fs::path& path) { return std::make_unique<RunRegistry>(path); }

RunRecord find_run(const fs::path& registry, const std::string& id_prefix_or_dir) {
  if (!is_registry_url(registry.string()) && !fs::exists(registry)) throw ConfigError("no registry at " + registry.string() + " (set --registry or XP_REGISTRY)");
  RunRegistry r(registry);
  return r.find_run(id_prefix_or_dir);
}

}  // namespace xp
