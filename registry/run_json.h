#pragma once
// The stable JSON forms of runs and reports (`--format json`), documented in docs/registry.md.
// NaN and missing values are null.
#include <nlohmann/json.hpp>

#include "run_registry.h"
#include "run_report.h"

namespace xp::registry {

// id, experiment, variant, seed, status, message, start, end (ISO 8601 UTC), duration_s, host, pid,
// git_commit, git_dirty, config_hash, run_dir, tags {}, metrics {name: value}.
nlohmann::json run_to_json(const RunRecord& run);
nlohmann::json report_to_json(const Report& report);
// A double as JSON: null for NaN/inf.
nlohmann::json json_number(double v);

}  // namespace xp::registry
