#pragma once
// How an ensemble run (`xp ensemble`) names its members in the registry: the tag `ensemble_of`
// holds the member run ids, comma-separated, in order (a run may appear twice). A tag needs no
// schema change and is queryable like any other:
//   xp runs --where "tags.ensemble_of like '%r0lq3%'"   (ensembles that contain a run)
#include <string>
#include <vector>

#include "run_registry.h"

namespace xp::registry {

constexpr const char* kEnsembleOfTag = "ensemble_of";

bool is_ensemble(const RunRecord& run);
// The member ids of an ensemble run, empty for any other run.
std::vector<std::string> ensemble_members(const RunRecord& run);
std::string join_members(const std::vector<std::string>& ids);

}  // namespace xp::registry
