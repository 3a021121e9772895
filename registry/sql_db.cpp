#include "sql_db.h"

#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <thread>

#include <unistd.h>

#include "sql_backend.h"

namespace xp::sql {
namespace {

constexpr double kRetryFor_s = 60.0;

// Randomized so that writers that collided do not collide again in lock step.
void backoff(int attempt) {
  thread_local std::mt19937 gen(std::random_device{}());
  int cap_ms = std::min(2 << std::min(attempt, 6), 100);
  std::this_thread::sleep_for(std::chrono::milliseconds(1 + gen() % cap_ms));
}

}  // namespace

bool is_postgres_url(const std::string& location) {
  return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

std::string redact_location(const std::string& location) {
  if (!is_postgres_url(location)) return location;
  // scheme://user:password@host -> scheme://user:***@host
  auto scheme_end = location.find("://") + 3;
  auto at = location.find('@', scheme_end);
  if (at == std::string::npos) return location;
  auto colon = location.find(':', scheme_end);
  if (colon == std::string::npos || colon > at) return location;
  return location.substr(0, colon + 1) + "***" + location.substr(at);
}

// ---- Statement ----

Statement::Statement(std::unique_ptr<StatementImpl> impl) : impl_(std::move(impl)) {}
Statement::~Statement() = default;
Statement::Statement(Statement&& other) noexcept = default;

Statement& Statement::bind(int index, int64_t v) {
  impl_->bind_int64(index, v);
  return *this;
}
Statement& Statement::bind(int index, double v) {
  if (std::isnan(v)) impl_->bind_null(index);
  else impl_->bind_double(index, v);
  return *this;
}
Statement& Statement::bind(int index, const std::string& v) {
  impl_->bind_text(index, v);
  return *this;
}
Statement& Statement::bind_null(int index) {
  impl_->bind_null(index);
  return *this;
}
bool Statement::step() { return impl_->step(); }
void Statement::run() {
  while (impl_->step()) {
  }
  impl_->reset();
}
void Statement::reset() { impl_->reset(); }
bool Statement::is_null(int col) const { return impl_->is_null(col); }
int64_t Statement::int64(int col) const { return impl_->int64(col); }
double Statement::real(int col) const { return impl_->real(col); }
std::optional<double> Statement::real_or_null(int col) const {
  if (is_null(col)) return std::nullopt;
  return real(col);
}
std::optional<int64_t> Statement::int64_or_null(int col) const {
  if (is_null(col)) return std::nullopt;
  return int64(col);
}
std::string Statement::text(int col) const { return impl_->text(col); }
int Statement::column_count() const { return impl_->column_count(); }
std::string Statement::column_name(int col) const { return impl_->column_name(col); }

// ---- Database ----

Database::Database(const std::string& location, bool create)
    : impl_(is_postgres_url(location) ? open_postgres(location) : open_sqlite(location, create)) {
  impl_->location = redact_location(location);
}
Database::~Database() = default;

Dialect Database::dialect() const { return impl_->dialect(); }
const std::string& Database::path() const { return impl_->location; }
void Database::exec(const std::string& sql) {
  std::lock_guard lock(impl_->mutex);
  impl_->exec(sql);
}
Statement Database::prepare(const std::string& sql) { return Statement(impl_->prepare(sql)); }
int64_t Database::last_insert_rowid() {
  std::lock_guard lock(impl_->mutex);
  return impl_->last_insert_rowid();
}
int64_t Database::changes() const { return impl_->changes(); }

void Database::write_transaction(const std::function<void()>& body) {
  std::lock_guard lock(impl_->mutex);
  if (impl_->depth > 0) {  // joins the outer transaction; the outer one retries the whole
    body();
    return;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(kRetryFor_s);
  for (int attempt = 0;; ++attempt) {
    try {
      impl_->begin_write();
    } catch (const Error& e) {
      if (e.kind() == Error::Kind::Busy && std::chrono::steady_clock::now() < deadline) {
        backoff(attempt);
        continue;
      }
      throw;
    }
    ++impl_->depth;
    try {
      body();
      impl_->exec("COMMIT");
      --impl_->depth;
      return;
    } catch (const Error& e) {
      --impl_->depth;
      impl_->rollback();
      if (e.kind() == Error::Kind::Busy && std::chrono::steady_clock::now() < deadline) {
        backoff(attempt);
        continue;
      }
      throw;
    } catch (...) {
      --impl_->depth;
      impl_->rollback();
      throw;
    }
  }
}

void Database::read_transaction(const std::function<void()>& body) {
  std::lock_guard lock(impl_->mutex);
  if (impl_->depth > 0) {
    body();
    return;
  }
  impl_->begin_read();
  ++impl_->depth;
  try {
    body();
    --impl_->depth;
    impl_->exec("COMMIT");
  } catch (...) {
    if (impl_->depth > 0) --impl_->depth;
    impl_->rollback();
    throw;
  }
}

std::string Database::least(const std::string& a, const std::string& b) const {
  // LEAST/GREATEST skip NULLs; SQLite's two-argument MIN/MAX return NULL for one, hence COALESCE.
  if (dialect() == Dialect::Postgres) return "LEAST(" + a + ", " + b + ")";
  return "MIN(COALESCE(" + a + ", " + b + "), COALESCE(" + b + ", " + a + "))";
}
std::string Database::greatest(const std::string& a, const std::string& b) const {
  if (dialect() == Dialect::Postgres) return "GREATEST(" + a + ", " + b + ")";
  return "MAX(COALESCE(" + a + ", " + b + "), COALESCE(" + b + ", " + a + "))";
}
std::string Database::like() const { return dialect() == Dialect::Postgres ? "ILIKE" : "LIKE"; }
std::string Database::for_update() const { return dialect() == Dialect::Postgres ? " FOR UPDATE" : ""; }

std::shared_ptr<Database> shared_database(const std::string& location, bool create) {
  // SQLite connections are cheap and per object (as before); a PostgreSQL server counts them.
  if (!is_postgres_url(location)) return std::make_shared<Database>(location, create);
  static std::mutex mutex;
  static std::map<std::pair<std::string, pid_t>, std::weak_ptr<Database>> open;
  std::lock_guard lock(mutex);
  // Keyed by process too: a forked child must not talk over its parent's socket.
  const auto key = std::make_pair(location, ::getpid());
  if (auto db = open[key].lock()) return db;
  auto db = std::make_shared<Database>(location, create);
  open[key] = db;
  return db;
}

}  // namespace xp::sql
