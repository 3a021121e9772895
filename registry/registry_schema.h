#pragma once
// The registry's schema and its forward migrations. A database records its version in
// schema_version; opening an older one upgrades it in one transaction, opening a newer one is
// refused (an older xp must not write into a layout it does not know).

#include "sqlite_db.h"

namespace xp::registry {

constexpr int kSchemaVersion = 2;

// Creates the current schema in an empty database, or migrates an older one to it.
// Returns the version the database had before (0 for a new database).
int ensure_schema(sql::Database& db);

// The version recorded in the database; 0 when it has no schema yet.
int schema_version(sql::Database& db);

}  // namespace xp::registry
