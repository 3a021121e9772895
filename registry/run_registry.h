#pragma once
// The run registry: records runs for the engine (xp::RunRecorder) and answers the queries behind
// `xp runs`, `xp show`, `xp diff` and `xp report`. Two backends, one schema: a SQLite file (the
// default; WAL journaling, several `xp run` processes on one machine write at once) or a PostgreSQL
// server (`postgresql://user@host/db`; any number of machines). docs/registry.md has the schema.

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "xp/base/run_recorder.h"
#include "where_expr.h"
#include "xp/base/run_status_names.h"

namespace xp {

namespace sql {
class Database;
}

// $XP_REGISTRY when set, else ./xp-runs/registry.db. A registry "path" is a SQLite file or a
// postgresql:// URL throughout.
std::filesystem::path default_registry_path();

// Whether `location` names a PostgreSQL registry (postgresql:// or postgres://).
bool is_registry_url(const std::string& location);

// Where runs without an explicit run_dir go: the SQLite file's folder; for a PostgreSQL registry
// $XP_RUN_ROOT, else ./xp-runs (runs' files stay on the machine, or shared disk, that ran them).
std::filesystem::path default_run_root(const std::filesystem::path& registry);

// The registry as a child process must be told it: a URL as given, a file made absolute.
std::string registry_argument(const std::filesystem::path& registry);

// The registry a read-only command should open: `option` when given, else the default. Throws
// xp::ConfigError when the file does not exist (reading must not create an empty registry).
std::filesystem::path existing_registry_path(const std::string& option);

// A new run id: "r" + 8 base-36 digits of the start time in milliseconds + 6 base-36 digits
// (random per process, counting up within it). Ids sort by start time as text and are safe
// folder names.
std::string new_run_id();

// A run as stored.
struct RunRecord {
  int64_t rid = 0;  // internal key
  std::string id;
  RunInfo info;
  RunStatus status = RunStatus::Running;
  std::string message;  // why it failed, diverged or was marked crashed
  double start_time = 0;                  // Unix seconds
  std::optional<double> end_time, duration, heartbeat;
  std::map<std::string, double> summary;  // set_summary values
  std::vector<std::string> summary_order; // summary names in the order they were first set
  std::map<std::string, double> finals;   // last logged value of each per-epoch metric

  // Summary values over the final per-epoch values: what `metrics.NAME` means in queries.
  std::map<std::string, double> metrics() const;
};

struct MetricPoint {
  std::string name;
  int64_t epoch = 0, step = 0;
  double value = 0, time = 0;
};

struct MetricStats {
  std::string name;
  int64_t n = 0, last_epoch = 0;
  double final = 0, min = 0, max = 0;
};

struct ArtifactRecord {
  std::string path, kind, sha256;
  int64_t size = -1;  // -1 when the file did not exist when it was recorded
  double time = 0;
};

struct RunQuery {
  std::string experiment;             // empty: every experiment
  std::string where;                  // where_expr.h syntax; empty: no filter
  std::vector<std::string> statuses;  // empty: any status
  std::string sort = "-start";        // a field (where_expr.h); '-' prefix sorts descending
  int64_t limit = 0;                  // 0: no limit
};

class RunRegistry : public RunRecorder {
 public:
  // Opens or creates the registry (creating its folder), migrating an older schema. A postgresql://
  // URL connects to that database (which must exist) and creates or migrates the tables in it.
  explicit RunRegistry(const std::filesystem::path& path);
  ~RunRegistry() override;  // flushes buffered metrics
  RunRegistry(const RunRegistry&) = delete;
  RunRegistry& operator=(const RunRegistry&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // RunRecorder. Thread-safe (the engine heartbeats from its own thread). An empty
  // info.run_dir becomes <registry folder>/<experiment>/<id>; "{id}" in it is replaced by the id.
  std::string begin(const RunInfo& info) override;
  void resume(const std::string& run_id) override;
  void log_metrics(const std::string& run_id, int64_t epoch, int64_t step,
                   const std::map<std::string, double>& values) override;
  void set_summary(const std::string& run_id, const std::map<std::string, double>& values) override;
  void add_artifact(const std::string& run_id, const std::string& path, const std::string& kind) override;
  void set_tag(const std::string& run_id, const std::string& key, const std::string& value) override;
  void heartbeat(const std::string& run_id) override;
  void finish(const std::string& run_id, RunStatus status, const std::string& message = {}) override;

  // Writes buffered per-epoch metrics now. log_metrics buffers for up to `flush_interval_s`
  // (one transaction per flush); every other write and the destructor flush first.
  void flush();
  void set_flush_interval(double seconds) { flush_interval_s_ = seconds; }

  // Marks running runs crashed whose heartbeat is older than `stale_after_s`, or whose process
  // is gone (same host, pid not alive). Returns the ids it marked.
  std::vector<std::string> mark_stale_runs_crashed(double stale_after_s = 120.0);

  // Queries. list_runs leaves info.params, info.config_text and info.git_diff empty (get_run
  // and find_run fill them).
  std::vector<RunRecord> list_runs(const RunQuery& query);
  std::optional<RunRecord> get_run(const std::string& id);
  // By exact id, unique id prefix, or run folder (any path that resolves to the run's run_dir).
  // Throws xp::ConfigError when nothing or several runs match.
  RunRecord find_run(const std::string& id_prefix_or_dir);
  std::vector<MetricPoint> metric_history(const std::string& run_id);
  std::vector<MetricStats> metric_stats(const std::string& run_id);
  std::vector<ArtifactRecord> artifacts(const std::string& run_id);
  std::vector<std::string> experiments();
  // Metric and config-key names the runs of `experiment` (every run when empty) have, sorted;
  // for checking --where/--metric/--columns names before a query silently matches nothing.
  registry::KnownNames known_names(const std::string& experiment = {});

  sql::Database& database() { return *db_; }

 private:
  struct PendingMetric {
    std::string run_id, name;
    int64_t epoch, step;
    double value, time;
  };
  int64_t rid_of(const std::string& run_id);  // throws std::invalid_argument for an unknown id
  void flush_locked();
  void fill_details(std::vector<RunRecord>& runs);

  std::filesystem::path path_;
  std::shared_ptr<sql::Database> db_;  // shared with the sweep store in the same process
  std::recursive_mutex mutex_;
  std::map<std::string, int64_t> rids_;
  std::vector<PendingMetric> pending_;
  double last_flush_ = 0, flush_interval_s_ = 1.0;
  std::map<std::string, double> last_heartbeat_;
  std::set<std::string> resumed_;  // runs whose next metrics replace the abandoned attempt's
  std::string host_;
};

std::unique_ptr<RunRegistry> open_run_registry(const std::filesystem::path& path);

// For `xp run --resume RUN_DIR_OR_ID`: the run, its status and run_dir.
RunRecord find_run(const std::filesystem::path& registry, const std::string& id_prefix_or_dir);

// This machine's host name, as recorded in runs.host.
std::string current_host();
double unix_now();

}  // namespace xp
