#pragma once
// Before anything trains: the metric names [train] watches — checkpoint.monitor,
// early_stopping.monitor and the console's stems — must be names an epoch can log, given the
// metric plugins the run configures (their schemas declare their outputs). A typo is a ConfigError
// at the key's file:line:col with the closest valid names.

#include <string>
#include <vector>

#include "xp/base/config_node.h"
#include "xp/params.h"

namespace xp::config {

// The names the configured metrics declare (patterns allowed); false when some metric declares
// none, so that nothing can be checked.
bool declared_metric_outputs(const std::vector<Params>& metrics, std::vector<std::string>& outputs);

// `train_node` is the [train] table as written (for locations); `fallback_where` locates defaults.
void check_monitors(const Params& train, const std::vector<Params>& metrics, const Node& train_node,
                    const std::string& fallback_where);

}  // namespace xp::config
