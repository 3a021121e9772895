#pragma once
// Text forms of xp::RunStatus as stored in the registry's runs.status column.
#include <optional>
#include <string>
#include <vector>

#include "xp/base/run_recorder.h"

namespace xp {

// All status names in enum order: running, finished, failed, diverged, crashed, pruned, interrupted.
const std::vector<std::string>& run_status_names();
std::optional<RunStatus> parse_run_status(const std::string& name);

}  // namespace xp
