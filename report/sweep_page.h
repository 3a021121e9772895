#pragma once
// `xp report --sweep ID --html FILE`: a sweep's page: the objective per trial over time with the
// best so far, the objective against each parameter, parallel coordinates over all parameters,
// the ranked trial table (pruned, failed and crashed trials marked) and the best configuration.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sweep_config.h"
#include "sweep_store.h"

namespace xp::report {

// One row per trial: {trial, state, value, shown (value, or the last watched value of a pruned
// trial), best_so_far (best completed value among trials finished by then), finished (ms), note,
// p0, p1, ... the parameters in the order of the search space}, in the order trials finished.
nlohmann::json sweep_trial_rows(const sweeps::SweepRecord& sweep, const sweeps::SweepConfig& config,
                                const std::vector<sweeps::TrialRecord>& trials);
std::string sweep_page_html(const sweeps::SweepRecord& sweep, const sweeps::SweepConfig& config,
                            const std::vector<sweeps::TrialRecord>& trials);

}  // namespace xp::report
