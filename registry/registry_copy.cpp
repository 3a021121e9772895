#include "registry_copy.h"

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <variant>
#include <vector>

#include "registry_schema.h"
#include "run_registry.h"
#include "sql_db.h"
#include "where_expr.h"
#include "xp/errors.h"

namespace xp::registry {
namespace {

// Tables are copied column by column with the types the schema declares, so that a value keeps
// its type across backends (SQLite would hand back anything as text; PostgreSQL is strict).
struct Col {
  const char* name;
  char type;  // 'i' integer, 'r' real, 't' text
};
using Cell = std::variant<std::monostate, int64_t, double, std::string>;
using Row = std::vector<Cell>;

const std::vector<Col> kRunCols = {
    {"id", 't'},           {"experiment", 't'},   {"variant", 't'},     {"seed", 'i'},        {"status", 't'},
    {"start_time", 'r'},   {"end_time", 'r'},     {"host", 't'},        {"pid", 'i'},         {"command_line", 't'},
    {"xp_version", 't'},   {"torch_version", 't'}, {"device", 't'},     {"git_commit", 't'},  {"git_dirty", 'i'},
    {"config_hash", 't'},  {"config_text", 't'},  {"run_dir", 't'},     {"cuda_version", 't'}, {"git_diff", 't'},
    {"message", 't'},      {"heartbeat", 'r'},    {"duration", 'r'}};
// Tables keyed by the run's rid, each copied whole.
const std::vector<std::pair<const char*, std::vector<Col>>> kRunChildren = {
    {"params", {{"key", 't'}, {"value", 't'}, {"num", 'r'}}},
    {"summary", {{"name", 't'}, {"value", 'r'}, {"seq", 'i'}}},
    {"artifacts", {{"path", 't'}, {"kind", 't'}, {"size", 'i'}, {"sha256", 't'}, {"time", 'r'}}},
    {"tags", {{"key", 't'}, {"value", 't'}}},
    {"metric_stats",
     {{"name", 't'}, {"n", 'i'}, {"last_epoch", 'i'}, {"last_step", 'i'}, {"final", 'r'}, {"min", 'r'}, {"max", 'r'}}},
    {"metrics", {{"name", 't'}, {"epoch", 'i'}, {"step", 'i'}, {"value", 'r'}, {"time", 'r'}}},
};
const std::vector<Col> kSweepCols = {
    {"id", 't'},         {"config_path", 't'}, {"config_text", 't'}, {"experiment", 't'},   {"variant", 't'},
    {"method", 't'},     {"metric", 't'},      {"mode", 't'},        {"max_trials", 'i'},   {"deadline", 'r'},
    {"max_retries", 'i'}, {"lease_seconds", 'r'}, {"state", 't'},    {"created_at", 'r'}};
const std::vector<Col> kTrialCols = {{"number", 'i'},       {"state", 't'},      {"value", 'r'},   {"pruned_epoch", 'i'},
                                     {"attempts", 'i'},     {"worker", 't'},     {"lease_until", 'r'}, {"message", 't'},
                                     {"run_ids", 't'},      {"started_at", 'r'}, {"finished_at", 'r'}};
const std::vector<Col> kTrialParamCols = {{"number", 'i'}, {"key", 't'}, {"value", 't'}};
const std::vector<Col> kTrialValueCols = {{"number", 'i'}, {"epoch", 'i'}, {"value", 'r'}};

std::string names(const std::vector<Col>& cols) {
  std::string s;
  for (const auto& c : cols) s += (s.empty() ? "" : ", ") + std::string(c.name);
  return s;
}

Cell read_cell(const sql::Statement& st, int c, char type) {
  if (st.is_null(c)) return std::monostate{};
  if (type == 'i') return st.int64(c);
  if (type == 'r') return st.real(c);
  return st.text(c);
}

void bind_cell(sql::Statement& st, int i, const Cell& v) {
  if (auto p = std::get_if<int64_t>(&v)) st.bind(i, *p);
  else if (auto d = std::get_if<double>(&v)) st.bind(i, *d);
  else if (auto s = std::get_if<std::string>(&v)) st.bind(i, *s);
  else st.bind_null(i);
}

std::vector<Row> select_rows(sql::Database& db, const std::string& table, const std::vector<Col>& cols,
                             const std::string& key_column, const Cell& key) {
  auto st = db.prepare("SELECT " + names(cols) + " FROM " + table + " WHERE " + key_column + " = ?1");
  bind_cell(st, 1, key);
  std::vector<Row> rows;
  while (st.step()) {
    Row r;
    for (size_t c = 0; c < cols.size(); ++c) r.push_back(read_cell(st, static_cast<int>(c), cols[c].type));
    rows.push_back(std::move(r));
  }
  return rows;
}

// Multi-row INSERTs: one round trip per 200 rows instead of one per row.
int64_t insert_rows(sql::Database& db, const std::string& table, const std::string& key_column, const Cell& key,
                    const std::vector<Col>& cols, const std::vector<Row>& rows) {
  constexpr size_t kBatch = 200;
  const std::string head = "INSERT INTO " + table + "(" + key_column + ", " + names(cols) + ") VALUES ";
  for (size_t begin = 0; begin < rows.size(); begin += kBatch) {
    const size_t end = std::min(rows.size(), begin + kBatch);
    std::string sql = head;
    for (size_t r = begin; r < end; ++r) {
      sql += r == begin ? "(?" : ", (?";
      for (size_t c = 0; c < cols.size(); ++c) sql += ", ?";
      sql += ")";
    }
    auto st = db.prepare(sql);
    int i = 1;
    for (size_t r = begin; r < end; ++r) {
      bind_cell(st, i++, key);
      for (const auto& v : rows[r]) bind_cell(st, i++, v);
    }
    st.run();
  }
  return static_cast<int64_t>(rows.size());
}

std::optional<double> as_real(const Cell& c) {
  if (auto d = std::get_if<double>(&c)) return *d;
  if (auto i = std::get_if<int64_t>(&c)) return static_cast<double>(*i);
  return std::nullopt;
}

struct RunCopier {
  sql::Database &src, &dst;
  const CopyOptions& options;
  CopyResult& result;

  void copy_run(int64_t src_rid, const std::string& id) {
    auto rows = select_rows(src, "runs", kRunCols, "rid", src_rid);
    if (rows.empty()) return;  // deleted meanwhile
    const Row& run = rows[0];
    const double src_beat = as_real(run[21]).value_or(0);
    std::optional<int64_t> dst_rid;
    double dst_beat = 0;
    {
      auto st = dst.prepare("SELECT rid, heartbeat FROM runs WHERE id = ?1");
      st.bind(1, id);
      if (st.step()) {
        dst_rid = st.int64(0);
        dst_beat = st.real_or_null(1).value_or(0);
      }
    }
    // Present with the same or a later state: nothing to do (this is what makes copy idempotent).
    if (dst_rid && src_beat <= dst_beat) {
      ++result.runs_skipped;
      return;
    }
    (dst_rid ? result.runs_updated : result.runs_copied)++;
    if (options.dry_run) return;
    std::vector<std::vector<Row>> children;
    for (const auto& [table, cols] : kRunChildren) children.push_back(select_rows(src, table, cols, "rid", src_rid));
    dst.write_transaction([&] {
      if (dst_rid) {
        for (const auto& [table, cols] : kRunChildren)
          dst.prepare(std::string("DELETE FROM ") + table + " WHERE rid = ?1").bind(1, *dst_rid).run();
        dst.prepare("DELETE FROM runs WHERE rid = ?1").bind(1, *dst_rid).run();
      }
      std::string sql = "INSERT INTO runs(" + names(kRunCols) + ") VALUES (";
      for (size_t c = 0; c < kRunCols.size(); ++c) sql += c ? ", ?" : "?";
      auto st = dst.prepare(sql + ")");
      for (size_t c = 0; c < run.size(); ++c) bind_cell(st, static_cast<int>(c) + 1, run[c]);
      st.run();
      const int64_t rid = dst.last_insert_rowid();
      for (size_t t = 0; t < kRunChildren.size(); ++t)
        result.rows += insert_rows(dst, kRunChildren[t].first, "rid", rid, kRunChildren[t].second, children[t]);
    });
  }

  void copy_sweep(const std::string& id) {
    auto sweep = select_rows(src, "sweeps", kSweepCols, "id", id);
    if (sweep.empty()) return;
    bool exists = !select_rows(dst, "sweeps", {{"id", 't'}}, "id", id).empty();
    // Per trial: copy it when DST lacks it, or when SRC has it finished and DST does not.
    std::map<int64_t, std::string> dst_state;
    for (const auto& r : select_rows(dst, "sweep_trials", {{"number", 'i'}, {"state", 't'}}, "sweep_id", id))
      dst_state[std::get<int64_t>(r[0])] = std::get<std::string>(r[1]);
    auto finished = [](const std::string& s) {
      return s == "complete" || s == "pruned" || s == "failed" || s == "crashed";
    };
    std::vector<Row> trials;
    for (auto& t : select_rows(src, "sweep_trials", kTrialCols, "sweep_id", id)) {
      auto it = dst_state.find(std::get<int64_t>(t[0]));
      if (it == dst_state.end() || (finished(std::get<std::string>(t[1])) && !finished(it->second)))
        trials.push_back(std::move(t));
    }
    if (exists && trials.empty()) {
      ++result.sweeps_skipped;
      return;
    }
    (exists ? result.sweeps_updated : result.sweeps_copied)++;
    if (options.dry_run) return;
    std::set<int64_t> numbers;
    for (const auto& t : trials) numbers.insert(std::get<int64_t>(t[0]));
    auto only = [&](std::vector<Row> rows) {
      std::vector<Row> out;
      for (auto& r : rows)
        if (numbers.count(std::get<int64_t>(r[0]))) out.push_back(std::move(r));
      return out;
    };
    auto params = only(select_rows(src, "sweep_trial_params", kTrialParamCols, "sweep_id", id));
    auto values = only(select_rows(src, "sweep_trial_values", kTrialValueCols, "sweep_id", id));
    dst.write_transaction([&] {
      if (!exists) {
        std::vector<Col> rest(kSweepCols.begin() + 1, kSweepCols.end());
        Row row(sweep[0].begin() + 1, sweep[0].end());
        insert_rows(dst, "sweeps", "id", id, rest, {row});
      }
      for (int64_t n : numbers)
        for (const char* table : {"sweep_trials", "sweep_trial_params", "sweep_trial_values"})
          dst.prepare(std::string("DELETE FROM ") + table + " WHERE sweep_id = ?1 AND number = ?2")
              .bind(1, id)
              .bind(2, n)
              .run();
      result.rows += insert_rows(dst, "sweep_trials", "sweep_id", id, kTrialCols, trials);
      result.rows += insert_rows(dst, "sweep_trial_params", "sweep_id", id, kTrialParamCols, params);
      result.rows += insert_rows(dst, "sweep_trial_values", "sweep_id", id, kTrialValueCols, values);
    });
  }
};

std::unique_ptr<sql::Database> open_registry(const std::string& location, bool create) {
  if (!create && !sql::is_postgres_url(location) && !std::filesystem::exists(location))
    throw ConfigError("no registry at " + location);
  auto db = std::make_unique<sql::Database>(location, create);
  ensure_schema(*db);  // an older source is migrated like any registry xp opens
  return db;
}

}  // namespace

CopyResult copy_registry(const std::string& source, const std::string& destination, const CopyOptions& options,
                         std::ostream* progress) {
  if (source == destination) throw ConfigError("source and destination are the same registry: " + source);
  if (!sql::is_postgres_url(destination) && std::filesystem::path(destination).has_parent_path())
    std::filesystem::create_directories(std::filesystem::path(destination).parent_path());
  auto src = open_registry(source, false);
  auto dst = open_registry(destination, true);
  CopyResult result;
  RunCopier copier{*src, *dst, options, result};

  std::set<std::string> copied_ids;
  if (options.runs) {
    std::string sql = "SELECT r.rid, r.id FROM runs r WHERE 1 = 1";
    std::vector<SqlArg> args;
    if (!options.experiment.empty()) {
      sql += " AND r.experiment = ?";
      args.emplace_back(options.experiment);
    }
    if (!options.where.empty()) {
      auto where = compile_where(options.where, src->dialect());
      sql += " AND " + where.sql;
      args.insert(args.end(), where.args.begin(), where.args.end());
    }
    auto st = src->prepare(sql + " ORDER BY r.rid");
    int i = 1;
    for (const auto& a : args) {
      if (auto p = std::get_if<int64_t>(&a)) st.bind(i++, *p);
      else if (auto d = std::get_if<double>(&a)) st.bind(i++, *d);
      else st.bind(i++, std::get<std::string>(a));
    }
    std::vector<std::pair<int64_t, std::string>> runs;
    while (st.step()) runs.emplace_back(st.int64(0), st.text(1));
    size_t done = 0;
    for (const auto& [rid, id] : runs) {
      copier.copy_run(rid, id);
      copied_ids.insert(id);
      if (progress && ++done % 500 == 0) *progress << "  " << done << "/" << runs.size() << " runs\n" << std::flush;
    }
  }
  if (options.sweeps) {
    const bool filtered = !options.experiment.empty() || !options.where.empty();
    std::vector<std::string> sweeps;
    auto st = src->prepare("SELECT id FROM sweeps ORDER BY created_at");
    while (st.step()) sweeps.push_back(st.text(0));
    for (const auto& id : sweeps) {
      if (filtered) {
        // With a run filter, a sweep goes along when one of its trials' runs did.
        bool wanted = false;
        for (const auto& r : select_rows(*src, "sweep_trials", {{"run_ids", 't'}}, "sweep_id", id)) {
          std::istringstream lines(std::get<std::string>(r[0]));
          for (std::string run; std::getline(lines, run);) wanted = wanted || copied_ids.count(run);
        }
        if (!wanted) continue;
      }
      copier.copy_sweep(id);
    }
  }
  return result;
}

}  // namespace xp::registry
