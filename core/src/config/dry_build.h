#pragma once
// The dry build behind `xp validate` and the check `xp run` makes before recording any run: builds
// every plugin of a resolved run on the CPU (dataset: its roots and one readable sample; sampler,
// augmentations, model, loss, metrics) and pushes one batch of two samples through augmentations
// -> collate -> batch augmentations -> model -> loss -> metrics, then applies the freeze patterns
// and parameter groups to the model's parameters. What fails is reported at the TOML table it comes
// from, with the shapes involved (e.g. a class-index loss on a dense [B, 1, H, W] output, mixup on
// segmentation masks, a freeze glob that matches no parameter, a data root that does not exist).

#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "xp/base/config_errors.h"
#include "config/run_spec.h"
#include "xp/dataset.h"

namespace xp::config {

// Adds every finding to `errors`; returns whether the run built and its batch went through.
// Runs with torch's gradient mode off and leaves the global RNG seeded from the run's seed.
// `datasets`, when given, keeps the datasets built so far by their [data] table, so that variants
// sharing one (the usual case) construct it once.
using DatasetCache = std::map<std::string, std::shared_ptr<Dataset>>;
bool dry_build(const RunSpec& spec, ErrorCollector& errors, DatasetCache* datasets = nullptr);

}  // namespace xp::config

namespace xp::config {

// Dry-builds one run per variant (the first seed: seeds do not change what is built) and throws
// every finding at once (ConfigErrorList); a finding that only some variants have names them.
// `progress`, when set, gets one line per variant built ("dry build: variant focal ok (1.2 s)").
void dry_build_runs(const std::vector<RunSpec>& runs, std::ostream* progress = nullptr);

}  // namespace xp::config
