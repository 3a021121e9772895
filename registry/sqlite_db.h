#pragma once
// A thin RAII layer over the SQLite C API: a connection that waits on and retries busy locks, and
// prepared statements with typed binds. Only the registry uses it; nothing SQL leaks to the engine.

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

namespace xp::sql {

class Error : public std::runtime_error {
 public:
  Error(const std::string& message, int code) : std::runtime_error(message), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

class Statement;

class Database {
 public:
  // Opens (creating when `create`) the file with WAL journaling, foreign keys on and a busy
  // timeout, so concurrent writer processes queue instead of failing with "database is locked".
  explicit Database(const std::string& path, bool create = true);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

  // Runs one or more statements without results.
  void exec(const std::string& sql);
  Statement prepare(const std::string& sql);
  int64_t last_insert_rowid() const;
  int changes() const;

  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT. BEGIN IMMEDIATE takes the write lock up front,
  // so a transaction never fails half way on a lock upgrade; SQLITE_BUSY anywhere in the
  // transaction rolls it back and retries it (with backoff) until `retry_for_s` has passed.
  void write_transaction(const std::function<void()>& body);
  // Deferred read transaction: one consistent snapshot for several queries.
  void read_transaction(const std::function<void()>& body);

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
  double retry_for_s_ = 60.0;
};

class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;

  // Binds are 1-based like SQLite's; each returns *this so calls chain.
  Statement& bind(int index, int64_t v);
  Statement& bind(int index, int v) { return bind(index, static_cast<int64_t>(v)); }
  Statement& bind(int index, double v);
  Statement& bind(int index, const std::string& v);
  Statement& bind(int index, const char* v) { return bind(index, std::string(v)); }
  Statement& bind_null(int index);
  Statement& bind(int index, const std::optional<double>& v) { return v ? bind(index, *v) : bind_null(index); }

  // Advances to the next row; false when done. Throws on errors (SQLITE_BUSY as sql::Error).
  bool step();
  // Steps through a statement without results.
  void run();
  void reset();

  bool is_null(int col) const;
  int64_t int64(int col) const;
  double real(int col) const;
  std::optional<double> real_or_null(int col) const;
  std::string text(int col) const;
  int column_count() const;
  std::string column_name(int col) const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace xp::sql
