#pragma once
// The model(s) a registry run stands for, loaded for `xp predict` and `xp export`: a run (id,
// unique prefix or folder) is one model; an ensemble run (`xp ensemble`) is its members, averaged.
// Each gets its recorded calibration (summary values calib_temperature / calib_threshold).

#include <string>
#include <vector>

#include "inference/run_model.h"
#include "run_registry.h"

namespace xp::cli {

struct ModelRuns {
  RunRecord run;                             // the run named (an ensemble or a model run)
  std::vector<RunRecord> members;            // the runs whose weights predict (the run itself, or its members)
  std::vector<inference::LoadedRun> loaded;  // same order as members
};

// Throws xp::ConfigError for an unknown run (did-you-mean over the registry's ids), a run without
// its config or checkpoint, a plugin library the run needs that is not loaded.
ModelRuns load_model_runs(RunRegistry& registry, const std::string& arg, const inference::LoadOptions& options,
                          PluginLoader& loader);

// The run records only (no model built): members of an ensemble, or the run itself.
ModelRuns find_model_runs(RunRegistry& registry, const std::string& arg, const std::string& checkpoint);

}  // namespace xp::cli
