#pragma once
// One small SQL layer over the registry's two backends: SQLite (a file, the default) and
// PostgreSQL (a server, `postgresql://user@host/db`). The registry and the sweep store write their
// SQL once; this layer numbers placeholders for the backend (`?1`/`?` become `$1` with the bound
// value's type on PostgreSQL), maps errors (busy / serialization failure -> retry, constraint ->
// Error::Kind::Constraint) and runs transactions with the same retry policy on both.
// Nothing SQL leaks to the engine: it sees xp::RunRecorder only.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace xp::sql {

enum class Dialect { Sqlite, Postgres };

class Error : public std::runtime_error {
 public:
  // Busy: another writer holds the lock or the transaction lost a serialization race (retryable).
  enum class Kind { Other, Busy, Constraint, Connection };
  Error(const std::string& message, int code, Kind kind = Kind::Other)
      : std::runtime_error(message), code_(code), kind_(kind) {}
  int code() const { return code_; }  // SQLite's extended result code; 0 on PostgreSQL
  Kind kind() const { return kind_; }

 private:
  int code_;
  Kind kind_;
};

// "postgresql://..." or "postgres://...": a PostgreSQL connection URI; anything else is a file.
bool is_postgres_url(const std::string& location);
// The location with any password replaced by "***", for messages.
std::string redact_location(const std::string& location);

class StatementImpl;
class DatabaseImpl;

class Statement {
 public:
  explicit Statement(std::unique_ptr<StatementImpl> impl);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;

  // Binds are 1-based (`?1` or the first `?`); each returns *this so calls chain. A NaN binds as
  // NULL on both backends (SQLite stores NaN as NULL; PostgreSQL would sort it above every number).
  Statement& bind(int index, int64_t v);
  Statement& bind(int index, int v) { return bind(index, static_cast<int64_t>(v)); }
  Statement& bind(int index, double v);
  Statement& bind(int index, const std::string& v);
  Statement& bind(int index, const char* v) { return bind(index, std::string(v)); }
  Statement& bind_null(int index);
  Statement& bind(int index, const std::optional<double>& v) { return v ? bind(index, *v) : bind_null(index); }
  Statement& bind(int index, const std::optional<int64_t>& v) { return v ? bind(index, *v) : bind_null(index); }

  // Advances to the next row; false when done. Throws sql::Error.
  bool step();
  // Steps through a statement without results, then resets it for new binds.
  void run();
  void reset();

  bool is_null(int col) const;
  int64_t int64(int col) const;
  double real(int col) const;
  std::optional<double> real_or_null(int col) const;
  std::optional<int64_t> int64_or_null(int col) const;
  std::string text(int col) const;
  int column_count() const;
  std::string column_name(int col) const;

 private:
  std::unique_ptr<StatementImpl> impl_;
};

class Database {
 public:
  // A SQLite file (created when `create`; WAL journaling, foreign keys on, busy timeout) or a
  // PostgreSQL URI (the database must exist; tables are created by the registry schema).
  explicit Database(const std::string& location, bool create = true);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Dialect dialect() const;
  // The location as given (file path or URI with the password hidden), for messages.
  const std::string& path() const;

  // Runs one or more statements without parameters or results.
  void exec(const std::string& sql);
  Statement prepare(const std::string& sql);
  // Key of the row the last INSERT on this connection created (the runs table's rid).
  int64_t last_insert_rowid();
  // Rows changed by the last statement.
  int64_t changes() const;

  // Runs `body` in a write transaction. SQLite: BEGIN IMMEDIATE (the write lock up front).
  // PostgreSQL: READ COMMITTED; callers that read-modify-write lock rows (lock_row_sql). A busy
  // lock, a serialization failure or a deadlock anywhere rolls the transaction back and retries it
  // (randomized backoff) for up to a minute. Nested calls join the outer transaction.
  void write_transaction(const std::function<void()>& body);
  // One consistent snapshot for several queries.
  void read_transaction(const std::function<void()>& body);

  // Dialect spellings the shared SQL needs.
  std::string least(const std::string& a, const std::string& b) const;     // smaller non-NULL
  std::string greatest(const std::string& a, const std::string& b) const;  // larger non-NULL
  std::string like() const;  // case-insensitive LIKE (SQLite's LIKE already is)
  // " FOR UPDATE" on PostgreSQL (a row lock held to the end of the transaction), "" on SQLite
  // (BEGIN IMMEDIATE already serializes writers).
  std::string for_update() const;

 private:
  std::unique_ptr<DatabaseImpl> impl_;
};

// The process's connection to `location`, opened on first use and shared while anyone holds it:
// one connection per process and registry, however many objects (run registry, sweep store) use it.
std::shared_ptr<Database> shared_database(const std::string& location, bool create = true);

}  // namespace xp::sql
