#include "registry_schema.h"

#include <regex>
#include <string>

#include "param_value.h"

namespace xp::registry {
namespace {

// The current layout; docs/registry.md explains every table. Times are Unix seconds (REAL).
// Runs have an integer key (rid) for compact child tables and the user-facing text id.
const char* kCurrentSchema = R"sql(
CREATE TABLE schema_version(version INTEGER NOT NULL);
CREATE TABLE runs(
  rid INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  experiment TEXT NOT NULL,
  variant TEXT NOT NULL DEFAULT '',
  seed INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL,
  start_time REAL NOT NULL,
  end_time REAL,
  host TEXT NOT NULL DEFAULT '',
  pid INTEGER NOT NULL DEFAULT 0,
  command_line TEXT NOT NULL DEFAULT '',
  xp_version TEXT NOT NULL DEFAULT '',
  torch_version TEXT NOT NULL DEFAULT '',
  device TEXT NOT NULL DEFAULT '',
  git_commit TEXT NOT NULL DEFAULT '',
  git_dirty INTEGER NOT NULL DEFAULT 0,
  config_hash TEXT NOT NULL DEFAULT '',
  config_text TEXT NOT NULL DEFAULT '',
  run_dir TEXT NOT NULL DEFAULT '',
  cuda_version TEXT NOT NULL DEFAULT '',
  git_diff TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL DEFAULT '',
  heartbeat REAL,
  duration REAL);
CREATE TABLE params(
  rid INTEGER NOT NULL REFERENCES runs(rid) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  num REAL,
  PRIMARY KEY(rid, key)) WITHOUT ROWID;
CREATE TABLE summary(
  rid INTEGER NOT NULL REFERENCES runs(rid) ON DELETE CASCADE,
  name TEXT NOT NULL,
  value REAL,
  seq INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(rid, name)) WITHOUT ROWID;
CREATE TABLE artifacts(
  rid INTEGER NOT NULL REFERENCES runs(rid) ON DELETE CASCADE,
  path TEXT NOT NULL,
  kind TEXT NOT NULL DEFAULT '',
  size INTEGER,
  sha256 TEXT NOT NULL DEFAULT '',
  time REAL,
  PRIMARY KEY(rid, path)) WITHOUT ROWID;
CREATE TABLE metrics(
  rid INTEGER NOT NULL REFERENCES runs(rid) ON DELETE CASCADE,
  name TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  step INTEGER NOT NULL,
  value REAL,
  time REAL,
  PRIMARY KEY(rid, name, epoch, step)) WITHOUT ROWID;
CREATE TABLE metric_stats(
  rid INTEGER NOT NULL REFERENCES runs(rid) ON DELETE CASCADE,
  name TEXT NOT NULL,
  n INTEGER NOT NULL,
  last_epoch INTEGER NOT NULL,
  last_step INTEGER NOT NULL,
  final REAL,
  min REAL,
  max REAL,
  PRIMARY KEY(rid, name)) WITHOUT ROWID;
CREATE TABLE tags(
  rid INTEGER NOT NULL REFERENCES runs(rid) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY(rid, key)) WITHOUT ROWID;
)sql";

// Sweeps (v3; before that the sweep store created them itself, hence IF NOT EXISTS in the
// migration). A trial is leased by one worker at a time: `worker` and `lease_until` (unix seconds)
// say who and until when; docs/sweeps.md has the life of a trial.
const char* kSweepTables = R"sql(
CREATE TABLE IF NOT EXISTS sweeps(
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
  created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sweep_trials(
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
  PRIMARY KEY(sweep_id, number));
CREATE TABLE IF NOT EXISTS sweep_trial_params(
  sweep_id TEXT NOT NULL,
  number INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY(sweep_id, number, key));
CREATE TABLE IF NOT EXISTS sweep_trial_values(
  sweep_id TEXT NOT NULL,
  number INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  value REAL NOT NULL,
  PRIMARY KEY(sweep_id, number, epoch));
CREATE TABLE IF NOT EXISTS sweep_jobs(
  sweep_id TEXT NOT NULL,
  launcher TEXT NOT NULL,
  job_id TEXT NOT NULL,
  tasks INTEGER NOT NULL,
  parallel INTEGER NOT NULL,
  submitted_at REAL NOT NULL,
  PRIMARY KEY(sweep_id, job_id));
)sql";

// The same layout in PostgreSQL's words: 64-bit integers and doubles (PostgreSQL's REAL is 32-bit),
// a sequence for the run key, no WITHOUT ROWID.
std::string for_dialect(const std::string& schema, sql::Dialect dialect) {
  if (dialect == sql::Dialect::Sqlite) return schema;
  std::string s = std::regex_replace(schema, std::regex("rid INTEGER PRIMARY KEY"), "rid BIGSERIAL PRIMARY KEY");
  s = std::regex_replace(s, std::regex("\\bINTEGER\\b"), "BIGINT");
  s = std::regex_replace(s, std::regex("\\bREAL\\b"), "DOUBLE PRECISION");
  s = std::regex_replace(s, std::regex("\\) WITHOUT ROWID;"), ");");
  return s;
}

// Indices for `xp runs`/`xp report` filters and for stale-run detection; shared by a fresh
// database and the v1 -> v2 migration so both end with the same layout.
const char* kIndices = R"sql(
CREATE INDEX IF NOT EXISTS runs_experiment ON runs(experiment, status);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
CREATE INDEX IF NOT EXISTS runs_start ON runs(start_time);
CREATE INDEX IF NOT EXISTS runs_run_dir ON runs(run_dir);
CREATE INDEX IF NOT EXISTS runs_config_hash ON runs(config_hash);
CREATE INDEX IF NOT EXISTS params_key_num ON params(key, num);
CREATE INDEX IF NOT EXISTS summary_name ON summary(name, value);
CREATE INDEX IF NOT EXISTS sweep_trials_state ON sweep_trials(sweep_id, state);
)sql";

// v1 (xp 0.0.x) had no tags, no per-metric statistics, no numeric view of params, a rowid
// metrics table without a key, and fewer run columns.
void migrate_v1_to_v2(sql::Database& db) {
  db.exec(R"sql(
ALTER TABLE runs ADD COLUMN cuda_version TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN git_diff TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN message TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN heartbeat REAL;
ALTER TABLE runs ADD COLUMN duration REAL;
UPDATE runs SET heartbeat = COALESCE(end_time, start_time),
                duration = CASE WHEN end_time IS NULL THEN NULL ELSE end_time - start_time END;

ALTER TABLE params ADD COLUMN num REAL;

CREATE TABLE summary_v2(
  rid INTEGER NOT NULL REFERENCES runs(rid) ON DELETE CASCADE,
  name TEXT NOT NULL,
  value REAL,
  seq INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(rid, name)) WITHOUT ROWID;
INSERT OR REPLACE INTO summary_v2(rid, name, value, seq) SELECT rid, name, value, rowid FROM summary;
DROP TABLE summary;
ALTER TABLE summary_v2 RENAME TO summary;

CREATE TABLE metrics_v2(
  rid INTEGER NOT NULL REFERENCES runs(rid) ON DELETE CASCADE,
  name TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  step INTEGER NOT NULL,
  value REAL,
  time REAL,
  PRIMARY KEY(rid, name, epoch, step)) WITHOUT ROWID;
INSERT OR REPLACE INTO metrics_v2 SELECT rid, name, epoch, step, value, time FROM metrics ORDER BY rowid;
DROP TABLE metrics;
ALTER TABLE metrics_v2 RENAME TO metrics;

CREATE TABLE metric_stats(
  rid INTEGER NOT NULL REFERENCES runs(rid) ON DELETE CASCADE,
  name TEXT NOT NULL,
  n INTEGER NOT NULL,
  last_epoch INTEGER NOT NULL,
  last_step INTEGER NOT NULL,
  final REAL,
  min REAL,
  max REAL,
  PRIMARY KEY(rid, name)) WITHOUT ROWID;
INSERT INTO metric_stats(rid, name, n, last_epoch, last_step, final, min, max)
  SELECT m.rid, m.name, COUNT(*), MAX(m.epoch), 0, NULL, MIN(m.value), MAX(m.value) FROM metrics m GROUP BY m.rid, m.name;
UPDATE metric_stats SET
  last_step = (SELECT MAX(step) FROM metrics m WHERE m.rid = metric_stats.rid AND m.name = metric_stats.name
               AND m.epoch = metric_stats.last_epoch),
  final = (SELECT value FROM metrics m WHERE m.rid = metric_stats.rid AND m.name = metric_stats.name
           AND m.epoch = metric_stats.last_epoch ORDER BY step DESC LIMIT 1);

CREATE TABLE tags(
  rid INTEGER NOT NULL REFERENCES runs(rid) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY(rid, key)) WITHOUT ROWID;
)sql");
  // The numeric view of a param follows the same parsing rules as new writes, which SQL's CAST
  // cannot express ("2.0e-3" and "true" must become numbers, "abc" must stay NULL).
  auto select = db.prepare("SELECT rid, key, value FROM params");
  auto update = db.prepare("UPDATE params SET num = ?1 WHERE rid = ?2 AND key = ?3");
  while (select.step()) {
    update.bind(1, param_number(select.text(2))).bind(2, select.int64(0)).bind(3, select.text(1));
    update.run();
  }
}

}  // namespace

bool has_table(sql::Database& db, const std::string& name) {
  auto st = db.prepare(db.dialect() == sql::Dialect::Postgres
                           ? "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND "
                             "table_name = ?1"
                           : "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
  st.bind(1, name);
  return st.step();
}

int schema_version(sql::Database& db) {
  if (!has_table(db, "schema_version")) return 0;
  auto v = db.prepare("SELECT MAX(version) FROM schema_version");
  return v.step() && !v.is_null(0) ? static_cast<int>(v.int64(0)) : 0;
}

int ensure_schema(sql::Database& db) {
  // Versions only go up: a database at the current version needs no write lock (many workers
  // starting at once then do not queue behind each other).
  if (int now = schema_version(db); now == kSchemaVersion) return now;
  const auto dialect = db.dialect();
  int before = 0;
  db.write_transaction([&] {
    // SQLite's BEGIN IMMEDIATE already excludes other writers. On PostgreSQL two processes could
    // both see an empty database and race to create it: a transaction-scoped advisory lock makes
    // the second wait, then see the first one's committed schema (PostgreSQL's DDL is transactional).
    if (dialect == sql::Dialect::Postgres) db.prepare("SELECT pg_advisory_xact_lock(?1)").bind(1, kSchemaLockKey).run();
    before = schema_version(db);
    if (before > kSchemaVersion)
      throw std::runtime_error("registry '" + db.path() + "' has schema version " + std::to_string(before) +
                               ", newer than this xp understands (" + std::to_string(kSchemaVersion) +
                               "); use a newer xp");
    if (before == kSchemaVersion) return;
    if (before == 0) {
      if (has_table(db, "runs"))
        throw std::runtime_error("'" + db.path() + "' has a runs table but no schema_version: not an xp registry");
      db.exec(for_dialect(kCurrentSchema, dialect));
      db.exec(for_dialect(kSweepTables, dialect));
    } else {
      // Migrations are written once for both dialects; v1 only ever existed as SQLite files.
      if (before < 2) migrate_v1_to_v2(db);
      if (before < 3) db.exec(for_dialect(kSweepTables, dialect));
      db.exec("DELETE FROM schema_version");
    }
    db.exec(kIndices);
    db.prepare("INSERT INTO schema_version(version) VALUES (?1)").bind(1, kSchemaVersion).run();
  });
  return before;
}

}  // namespace xp::registry
