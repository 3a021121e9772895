// The PostgreSQL backend of sql_db.h (libpqxx 6.4): one connection, statements sent with
// exec_params (values always travel as parameters, never inside the SQL text). The shared SQL uses
// SQLite's `?1` / `?` placeholders; they become `$1::type` here, typed from the bound value, so that
// PostgreSQL's strict typing sees `r.seed = $1::float8` rather than guessing from an untyped literal.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <pqxx/pqxx>
#include <optional>
#include <vector>

#include "sql_backend.h"

namespace xp::sql {
namespace {

struct Param {
  enum Type { Null, Int, Real, Text } type = Null;
  std::string value;
};

const char* cast_for(Param::Type t) {
  switch (t) {
    case Param::Int: return "::int8";
    case Param::Real: return "::float8";
    case Param::Text: return "::text";
    case Param::Null: return "";
  }
  return "";
}

// `?N` -> `$N::type`, `?` -> `$k::type` (k counting), outside quoted literals and identifiers.
std::string translate(const std::string& sql, const std::vector<Param>& params) {
  std::string out;
  out.reserve(sql.size() + 16);
  int next = 0;
  char quote = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (quote) {
      out += c;
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      out += c;
      continue;
    }
    if (c != '?') {
      out += c;
      continue;
    }
    int n = 0;
    size_t j = i + 1;
    while (j < sql.size() && std::isdigit(static_cast<unsigned char>(sql[j]))) n = n * 10 + (sql[j++] - '0');
    if (j == i + 1) n = ++next;
    else next = std::max(next, n);
    i = j - 1;
    out += "$" + std::to_string(n);
    if (n >= 1 && n <= static_cast<int>(params.size())) out += cast_for(params[n - 1].type);
  }
  return out;
}

Error to_error(const std::exception& e, const std::string& what) {
  if (auto* s = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& state = s->sqlstate();
    Error::Kind kind = Error::Kind::Other;
    if (state == "40001" || state == "40P01" || state == "55P03") kind = Error::Kind::Busy;
    else if (state.rfind("23", 0) == 0) kind = Error::Kind::Constraint;
    else if (state.rfind("08", 0) == 0) kind = Error::Kind::Connection;
    std::string msg = s->what();
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return Error(what + ": " + msg + (state.empty() ? "" : " [SQLSTATE " + state + "]"), 0, kind);
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&e))
    return Error(what + ": lost the connection to PostgreSQL: " + e.what(), 0, Error::Kind::Connection);
  return Error(what + ": " + e.what(), 0);
}

class PostgresDatabase;

class PostgresStatement : public StatementImpl {
 public:
  PostgresStatement(PostgresDatabase& db, std::string sql) : db_(db), sql_(std::move(sql)) {}

  void bind_int64(int i, int64_t v) override { at(i) = {Param::Int, std::to_string(v)}; }
  void bind_double(int i, double v) override {
    if (std::isinf(v)) {
      at(i) = {Param::Real, v > 0 ? "Infinity" : "-Infinity"};
      return;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    at(i) = {Param::Real, buf};
  }
  void bind_text(int i, const std::string& v) override { at(i) = {Param::Text, v}; }
  void bind_null(int i) override { at(i) = {Param::Null, {}}; }

  bool step() override;
  void reset() override {
    executed_ = false;
    current_.reset();
    result_ = pqxx::result();
    row_ = -1;
    params_.clear();
  }
  bool is_null(int col) const override { return field(col).is_null(); }
  int64_t int64(int col) const override {
    auto f = field(col);
    if (f.is_null()) return 0;
    const char* s = f.c_str();
    if (s[0] == 't' && s[1] == 0) return 1;  // booleans
    if (s[0] == 'f' && s[1] == 0) return 0;
    int64_t v = 0;
    const char* end = s + f.size();
    if (auto [p, ec] = std::from_chars(s, end, v); ec == std::errc() && p == end) return v;
    return static_cast<int64_t>(parse_double(s, end));
  }
  double real(int col) const override {
    auto f = field(col);
    return f.is_null() ? 0.0 : parse_double(f.c_str(), f.c_str() + f.size());
  }
  std::string text(int col) const override {
    auto f = field(col);
    return f.is_null() ? std::string() : std::string(f.c_str(), f.size());
  }
  int column_count() const override { return static_cast<int>(result_.columns()); }
  std::string column_name(int col) const override { return result_.column_name(static_cast<pqxx::row::size_type>(col)); }

 private:
  Param& at(int i) {
    if (i < 1) throw Error("bind index " + std::to_string(i) + " out of range", 0);
    if (static_cast<size_t>(i) > params_.size()) params_.resize(i);
    return params_[i - 1];
  }
  // Reading 100,000 rows (xp runs over 10,000 runs) spent most of its time in pqxx building a row
  // per field and parsing doubles through a stream: the row is built once per step, numbers are
  // parsed with from_chars (locale-independent, "NaN" and "Infinity" included).
  pqxx::field field(int col) const { return (*current_)[static_cast<pqxx::row::size_type>(col)]; }
  static double parse_double(const char* s, const char* end) {
    double v = 0;
    if (auto [p, ec] = std::from_chars(s, end, v); ec == std::errc() && p == end) return v;
    throw Error(std::string("not a number in a PostgreSQL result: '") + std::string(s, end) + "'", 0);
  }

  PostgresDatabase& db_;
  std::string sql_;
  std::vector<Param> params_;
  bool executed_ = false;
  pqxx::result result_;
  std::optional<pqxx::row> current_;
  long row_ = -1;
};

class PostgresDatabase : public DatabaseImpl {
 public:
  explicit PostgresDatabase(const std::string& url) {
    try {
      conn_ = std::make_unique<pqxx::connection>(url);
      pqxx::nontransaction tx(*conn_);
      // Notices ("relation already exists, skipping") are not for the user.
      tx.exec("SET client_min_messages = warning; SET application_name = 'xp'");
    } catch (const std::exception& e) {
      std::string msg = e.what();
      while (!msg.empty() && msg.back() == '\n') msg.pop_back();
      throw Error("cannot connect to the PostgreSQL registry '" + redact_location(url) + "': " + msg, 0,
                  Error::Kind::Connection);
    }
  }

  Dialect dialect() const override { return Dialect::Postgres; }

  void exec(const std::string& sql) override {
    std::lock_guard lock(mutex);
    try {
      pqxx::nontransaction tx(*conn_);
      auto r = tx.exec(sql);
      changes_ = r.affected_rows();
    } catch (const std::exception& e) {
      throw to_error(e, "SQL error in `" + sql.substr(0, 200) + "`");
    }
  }

  pqxx::result run(const std::string& sql, const std::vector<Param>& params) {
    std::lock_guard lock(mutex);
    std::string text = translate(sql, params);
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p.type == Param::Null ? nullptr : p.value.c_str());
    try {
      pqxx::nontransaction tx(*conn_);
      auto r = tx.exec_params(text, pqxx::prepare::make_dynamic_params(values));
      changes_ = r.affected_rows();
      return r;
    } catch (const std::exception& e) {
      throw to_error(e, "SQL error in `" + text.substr(0, 300) + "`");
    }
  }

  std::unique_ptr<StatementImpl> prepare(const std::string& sql) override {
    return std::make_unique<PostgresStatement>(*this, sql);
  }
  int64_t last_insert_rowid() override { return run("SELECT lastval()", {})[0][0].as<int64_t>(); }
  int64_t changes() const override { return changes_; }
  void begin_write() override { exec("BEGIN ISOLATION LEVEL READ COMMITTED"); }
  void begin_read() override { exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); }
  void rollback() noexcept override {
    try {
      pqxx::nontransaction tx(*conn_);
      tx.exec("ROLLBACK");
    } catch (...) {
      // The connection is gone; the server has rolled back already.
    }
  }

 private:
  std::unique_ptr<pqxx::connection> conn_;
  int64_t changes_ = 0;
};

bool PostgresStatement::step() {
  if (!executed_) {
    result_ = db_.run(sql_, params_);
    executed_ = true;
    row_ = -1;
  }
  ++row_;
  if (row_ >= static_cast<long>(result_.size())) {
    current_.reset();
    return false;
  }
  current_.emplace(result_[static_cast<pqxx::result::size_type>(row_)]);
  return true;
}

}  // namespace

std::unique_ptr<DatabaseImpl> open_postgres(const std::string& url) { return std::make_unique<PostgresDatabase>(url); }

}  // namespace xp::sql
