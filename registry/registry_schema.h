#pragma once
// The registry's schema and its forward migrations. A database records its version in
// schema_version; opening an older one upgrades it in one transaction, opening a newer one is
// refused (an older xp must not write into a layout it does not know). The same versions and
// migrations apply to SQLite and PostgreSQL; creation and migration are safe when many processes
// start at once.

#include <cstdint>

#include "sql_db.h"

namespace xp::registry {

// v2: tags, metric statistics, numeric params. v3: the sweep tables belong to the schema.
constexpr int kSchemaVersion = 3;
// pg_advisory_xact_lock key that serializes schema creation and migration on PostgreSQL ("xpschema").
constexpr int64_t kSchemaLockKey = 0x7870736368656d61;

// Creates the current schema in an empty database, or migrates an older one to it.
// Returns the version the database had before (0 for a new database).
int ensure_schema(sql::Database& db);

// The version recorded in the database; 0 when it has no schema yet.
int schema_version(sql::Database& db);

}  // namespace xp::registry
