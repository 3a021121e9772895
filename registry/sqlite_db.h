#pragma once
// The registry's SQL layer now serves SQLite and PostgreSQL: see sql_db.h.
#include "sql_db.h"
