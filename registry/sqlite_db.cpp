#include "sqlite_db.h"

#include <chrono>
#include <random>
#include <thread>

namespace xp::sql {
namespace {

bool is_busy(int code) { return (code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED; }

[[noreturn]] void fail(sqlite3* db, int code, const std::string& what) {
  throw Error(what + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(code)), code);
}

// Randomized so that writers that collided do not collide again in lock step.
void backoff(int attempt) {
  thread_local std::mt19937 gen(std::random_device{}());
  int cap_ms = std::min(2 << std::min(attempt, 6), 100);
  std::this_thread::sleep_for(std::chrono::milliseconds(1 + gen() % cap_ms));
}

}  // namespace

Database::Database(const std::string& path, bool create) : path_(path) {
  int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
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
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(retry_for_s_);
  for (int attempt = 0;; ++attempt) {
    try {
      exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
      break;
    } catch (const Error& e) {
      if (!is_busy(e.code()) || std::chrono::steady_clock::now() > deadline) {
        sqlite3_close(db_);
        db_ = nullptr;
        throw;
      }
      backoff(attempt);
    }
  }
}

Database::~Database() {
  if (db_) sqlite3_close_v2(db_);
}

void Database::exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw Error(msg, rc);
  }
}

Statement Database::prepare(const std::string& sql) { return Statement(db_, sql); }

int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

int Database::changes() const { return sqlite3_changes(db_); }

void Database::write_transaction(const std::function<void()>& body) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(retry_for_s_);
  for (int attempt = 0;; ++attempt) {
    try {
      exec("BEGIN IMMEDIATE");
    } catch (const Error& e) {
      if (is_busy(e.code()) && std::chrono::steady_clock::now() < deadline) {
        backoff(attempt);
        continue;
      }
      throw;
    }
    try {
      body();
      exec("COMMIT");
      return;
    } catch (const Error& e) {
      if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      if (is_busy(e.code()) && std::chrono::steady_clock::now() < deadline) {
        backoff(attempt);
        continue;
      }
      throw;
    } catch (...) {
      if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
}

void Database::read_transaction(const std::function<void()>& body) {
  exec("BEGIN");
  try {
    body();
    exec("COMMIT");
  } catch (...) {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

Statement::Statement(sqlite3* db, const std::string& sql) : db_(db) {
  int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &stmt_, nullptr);
  if (rc != SQLITE_OK) fail(db, rc, "cannot prepare SQL `" + sql + "`");
}

Statement::~Statement() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Statement::Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }

Statement& Statement::bind(int index, int64_t v) {
  int rc = sqlite3_bind_int64(stmt_, index, v);
  if (rc != SQLITE_OK) fail(db_, rc, "bind");
  return *this;
}

Statement& Statement::bind(int index, double v) {
  int rc = sqlite3_bind_double(stmt_, index, v);
  if (rc != SQLITE_OK) fail(db_, rc, "bind");
  return *this;
}

Statement& Statement::bind(int index, const std::string& v) {
  int rc = sqlite3_bind_text(stmt_, index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) fail(db_, rc, "bind");
  return *this;
}

Statement& Statement::bind_null(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) fail(db_, rc, "bind");
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  std::string sql = sqlite3_sql(stmt_) ? sqlite3_sql(stmt_) : "";
  sqlite3_reset(stmt_);
  fail(db_, rc, "SQL error in `" + sql + "`");
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
int64_t Statement::int64(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::real(int col) const { return sqlite3_column_double(stmt_, col); }
std::optional<double> Statement::real_or_null(int col) const {
  if (is_null(col)) return std::nullopt;
  return real(col);
}
std::string Statement::text(int col) const {
  const unsigned char* t = sqlite3_column_text(stmt_, col);
  return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(stmt_, col)) : std::string();
}
int Statement::column_count() const { return sqlite3_column_count(stmt_); }
std::string Statement::column_name(int col) const { return sqlite3_column_name(stmt_, col); }

}  // namespace xp::sql
