// The SQLite backend of sql_db.h: a file with WAL journaling, so several processes on one machine
// write at once (BEGIN IMMEDIATE serializes writers; readers never block).
#include <sqlite3.h>

#include <chrono>
#include <random>
#include <thread>

#include "sql_backend.h"

namespace xp::sql {
namespace {

Error::Kind kind_of(int code) {
  int primary = code & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return Error::Kind::Busy;
  if (primary == SQLITE_CONSTRAINT) return Error::Kind::Constraint;
  return Error::Kind::Other;
}

[[noreturn]] void fail(sqlite3* db, int code, const std::string& what) {
  throw Error(what + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(code)), code, kind_of(code));
}

void backoff(int attempt) {
  thread_local std::mt19937 gen(std::random_device{}());
  int cap_ms = std::min(2 << std::min(attempt, 6), 100);
  std::this_thread::sleep_for(std::chrono::milliseconds(1 + gen() % cap_ms));
}

class SqliteStatement : public StatementImpl {
 public:
  SqliteStatement(sqlite3* db, const std::string& sql) : db_(db) {
    int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &stmt_, nullptr);
    if (rc != SQLITE_OK) fail(db, rc, "cannot prepare SQL `" + sql + "`");
  }
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }

  void bind_int64(int i, int64_t v) override { check(sqlite3_bind_int64(stmt_, i, v)); }
  void bind_double(int i, double v) override { check(sqlite3_bind_double(stmt_, i, v)); }
  void bind_text(int i, const std::string& v) override {
    check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  void bind_null(int i) override { check(sqlite3_bind_null(stmt_, i)); }

  bool step() override {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    std::string sql = sqlite3_sql(stmt_) ? sqlite3_sql(stmt_) : "";
    sqlite3_reset(stmt_);
    fail(db_, rc, "SQL error in `" + sql + "`");
  }
  void reset() override {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  bool is_null(int col) const override { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  int64_t int64(int col) const override { return sqlite3_column_int64(stmt_, col); }
  double real(int col) const override { return sqlite3_column_double(stmt_, col); }
  std::string text(int col) const override {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(stmt_, col)) : std::string();
  }
  int column_count() const override { return sqlite3_column_count(stmt_); }
  std::string column_name(int col) const override { return sqlite3_column_name(stmt_, col); }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) fail(db_, rc, "bind");
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class SqliteDatabase : public DatabaseImpl {
 public:
  SqliteDatabase(const std::string& path, bool create) {
    // FULLMUTEX: a shared connection may be used from the engine's heartbeat thread too.
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_FULLMUTEX;
    int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close(db_);
      db_ = nullptr;
      throw Error("cannot open registry '" + path + "': " + msg, rc);
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, 10000);
    // Switching to WAL needs a moment of exclusive access; another process opening the same file
    // at the same instant makes it return SQLITE_BUSY before the busy handler applies, so retry.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (int attempt = 0;; ++attempt) {
      try {
        exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
        break;
      } catch (const Error& e) {
        if (e.kind() != Error::Kind::Busy || std::chrono::steady_clock::now() > deadline) {
          sqlite3_close(db_);
          db_ = nullptr;
          throw;
        }
        backoff(attempt);
      }
    }
  }
  ~SqliteDatabase() override {
    if (db_) sqlite3_close_v2(db_);
  }

  Dialect dialect() const override { return Dialect::Sqlite; }
  void exec(const std::string& sql) override {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      throw Error(msg, rc, kind_of(rc));
    }
  }
  std::unique_ptr<StatementImpl> prepare(const std::string& sql) override {
    return std::make_unique<SqliteStatement>(db_, sql);
  }
  int64_t last_insert_rowid() override { return sqlite3_last_insert_rowid(db_); }
  int64_t changes() const override { return sqlite3_changes(db_); }
  void begin_write() override { exec("BEGIN IMMEDIATE"); }
  void begin_read() override { exec("BEGIN"); }
  void rollback() noexcept override {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace

std::unique_ptr<DatabaseImpl> open_sqlite(const std::string& path, bool create) {
  return std::make_unique<SqliteDatabase>(path, create);
}

}  // namespace xp::sql
