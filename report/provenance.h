#pragma once
// Where a run came from, for the HTML pages: status (failed, crashed, ... marked), message, git
// commit and dirty flag, versions, device, host, start, duration.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "run_registry.h"

namespace xp::report {

// The runs of `experiment` that `where` selects (where_expr.h syntax, already checked), any
// status, oldest first, with only the runs table's own columns: no summary, metrics, params or
// tags, so that the provenance of 10,000 runs reads in milliseconds.
std::vector<RunRecord> experiment_runs(RunRegistry& registry, const std::string& experiment, const std::string& where);

// {id, variant, seed, status, message, git_commit, git_dirty, xp, torch, cuda, device, host, start,
//  duration_s, config_hash}
nlohmann::json provenance_json(const RunRecord& run);
// A sortable table of such objects (plus "group" when present); rows carry class status-<status>.
std::string provenance_table(const nlohmann::json& runs);

}  // namespace xp::report
