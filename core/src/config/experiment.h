#pragma once
// Experiment files: load a TOML file, apply `extends` (deep merge, relative to the file), pick
// variants, apply --set overrides and seeds, validate every plugin table against its schema and
// [train] against the engine's, and produce one RunSpec per (variant, seed).
// Every error is an xp::ConfigError naming file:line:col and, for names, the closest valid ones.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/run_spec.h"

namespace xp {

class PluginLoader;

struct ExperimentOptions {
  std::vector<std::string> sets;      // "train.epochs=5", value parsed as TOML ("loss.gamma=1.5")
  std::vector<std::string> variants;  // only these variants (empty = all)
  std::optional<std::vector<int64_t>> seeds;  // replaces [experiment] seeds
  // Validate only the tables that are present: a base file meant to be extended need not name
  // data, model and loss. Runs need them, so `xp run` leaves this false.
  bool partial = false;
  // When set, receives what the user should know but is no error: a bare --set skipped for the
  // variants whose plugin has no such parameter ("--set loss.gamma=3 skipped for variant tversky").
  std::vector<std::string>* notes = nullptr;
};

// Loads [plugins] paths through `loader` before validating, so experiment-local plugins work.
// Every error of every variant is reported at once (config::ConfigErrorList, see
// config/config_errors.h); variants come in the order the file writes them.
std::vector<RunSpec> resolve_experiment(const std::filesystem::path& file, const ExperimentOptions& options,
                                        PluginLoader& loader);

// Re-resolves a run from the config.toml xp wrote into its run directory (one variant, one seed),
// so `xp run --resume ID` needs no experiment file. Equal to the original RunSpec, hash included.
RunSpec resolve_recorded_run(const std::filesystem::path& config_file, PluginLoader& loader);

}  // namespace xp
