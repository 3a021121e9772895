#pragma once
// `normalize = { stats = "train" }`: per-band statistics of the training split, computed once per
// run before training, recorded in the run folder (normalization_stats.json, also registered as an
// artifact) and used for every later use of that run: validation and test, `--resume`, `xp predict`.
//
// Call resolve_normalization_stats() on the RunSpec before building the pipeline; it returns the
// spec with every top-level `normalize` that asks for stats = "train" given explicit mean/std (and
// clip values), so the rest of xp sees an ordinary normalize.

#include <filesystem>
#include <optional>
#include <ostream>

#include "config/run_spec.h"
#include "data/band_statistics.h"

namespace xp::engine {

inline constexpr const char* kNormalizationStatsFile = "normalization_stats.json";

// True when a top-level normalize of [[augment]] or [[eval_augment]] has stats = "train".
bool wants_training_statistics(const RunSpec& spec);

struct ResolvedStatistics {
  RunSpec spec;                                 // normalize params filled in (== input when not wanted)
  std::optional<data::BandStatistics> stats;    // what was used, when wanted
  std::filesystem::path file;                   // run_dir / kNormalizationStatsFile (when run_dir given)
  bool computed = false;                        // false: read back from `file`
};

// With a non-empty `run_dir`: reads run_dir/normalization_stats.json when it exists (resume,
// predict), else computes the statistics over the spec's training split and writes the file. With
// an empty one (xp augment preview, validate) it computes them and writes nothing. Checks that the
// recorded band names match the dataset's. Throws xp::ConfigError for clip_percentiles that do not
// fit the data or a file from other bands; the message of a read error names the file.
ResolvedStatistics resolve_normalization_stats(const RunSpec& spec, const std::filesystem::path& run_dir,
                                               std::ostream* log = nullptr);

// For inference on a finished run (`xp predict`, `xp ensemble`): the spec with the statistics
// recorded in run_dir/normalization_stats.json filled in; never computes. Throws xp::ConfigError when
// the spec asks for them and the file is missing (or from other bands).
RunSpec with_recorded_statistics(const RunSpec& spec, const std::filesystem::path& run_dir);

// Params of a `normalize` with `stats` filled in: mean, std, clip_low/high, max_pixel_value = 1.
Params apply_statistics(const Params& normalize, const data::BandStatistics& stats);

}  // namespace xp::engine
