#pragma once
// What each backend of sql_db.h implements. Internal to the registry library.

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "sql_db.h"

namespace xp::sql {

class StatementImpl {
 public:
  virtual ~StatementImpl() = default;
  virtual void bind_int64(int index, int64_t v) = 0;
  virtual void bind_double(int index, double v) = 0;
  virtual void bind_text(int index, const std::string& v) = 0;
  virtual void bind_null(int index) = 0;
  virtual bool step() = 0;
  virtual void reset() = 0;
  virtual bool is_null(int col) const = 0;
  virtual int64_t int64(int col) const = 0;
  virtual double real(int col) const = 0;
  virtual std::string text(int col) const = 0;
  virtual int column_count() const = 0;
  virtual std::string column_name(int col) const = 0;
};

class DatabaseImpl {
 public:
  virtual ~DatabaseImpl() = default;
  virtual Dialect dialect() const = 0;
  virtual void exec(const std::string& sql) = 0;
  virtual std::unique_ptr<StatementImpl> prepare(const std::string& sql) = 0;
  virtual int64_t last_insert_rowid() = 0;
  virtual int64_t changes() const = 0;
  virtual void begin_write() = 0;
  virtual void begin_read() = 0;
  virtual void rollback() noexcept = 0;

  std::string location;
  // Held for a whole transaction and for each statement's execution: a shared connection is used
  // by one thread at a time, and a statement never lands inside another thread's transaction.
  std::recursive_mutex mutex;
  int depth = 0;  // open (nested) transactions
};

std::unique_ptr<DatabaseImpl> open_sqlite(const std::string& path, bool create);
std::unique_ptr<DatabaseImpl> open_postgres(const std::string& url);

}  // namespace xp::sql
