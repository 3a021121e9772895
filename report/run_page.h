#pragma once
// `xp show RUN --html FILE`: one run's page: provenance, summary, learning curves (train and val
// per metric, x axis epoch or step), task panels, an ensemble's members against the ensemble,
// every epoch's values, artifacts, the config and the git diff of a dirty checkout.
#include <string>

#include "run_registry.h"

namespace xp::report {

// `registry` resolves ensemble members; `max_curve_points` caps each curve (evenly downsampled).
std::string run_page_html(RunRegistry& registry, const RunRecord& run, size_t max_curve_points = 500);

}  // namespace xp::report
