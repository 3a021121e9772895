#pragma once
// The sweep store serves SQLite and PostgreSQL registries now: see sql_sweep_store.h.
#include "sql_sweep_store.h"

namespace xp::sweeps {
using SqliteSweepStore = SqlSweepStore;
}
