#pragma once
// Per-band normalization statistics of a split (the training split): mean and standard deviation
// of every band, optionally of the values clipped to per-band percentiles (16-bit imagery with a
// few extreme pixels). Computed once over the raw samples (before augmentation), written as JSON
// (normalization_stats.json in the run folder) and read back for evaluation, resume and predict, so
// inference normalizes exactly as training did.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "xp/dataset.h"

namespace xp::data {

struct BandStatistics {
  std::vector<std::string> bands;           // band names, when the dataset names them
  std::vector<double> mean, std;            // per band, in pixel values (max_pixel_value = 1)
  std::vector<double> clip_percentiles;     // [lo, hi] or empty
  std::vector<double> clip_low, clip_high;  // per band when clipped, else empty
  std::string depth;                        // "uint8", "uint16" or "float32": the samples' bit depth
  std::string split = "train";
  int64_t samples = 0, skipped = 0;         // samples used, unreadable samples left out
  int64_t pixels = 0;                       // per band
};

struct BandStatisticsOptions {
  std::vector<double> clip_percentiles;  // [lo, hi] in [0, 100], lo < hi; empty = no clipping
  int64_t max_samples = 0;               // 0 = every sample; else the first max_samples (evenly spread)
};

// One pass over `split`'s samples (Split::load, no augmentation). 8- and 16-bit bands are counted
// in exact histograms, so mean, std and percentiles are exact; float bands are summed in double and
// cannot be clipped by percentile (std::invalid_argument). A band whose std is 0 gets std 1 (it
// normalizes to 0). Unreadable samples (xp::BadSample) are skipped and counted; throws
// std::runtime_error when no sample is readable or samples differ in band count.
BandStatistics compute_band_statistics(const Split& split, const BandStatisticsOptions& options,
                                       const std::vector<std::string>& band_names = {});

// JSON: {"bands": [...], "mean": [...], "std": [...], ...}. Doubles are written with 17
// significant digits, so read_band_statistics(write_band_statistics(s)) is bit-for-bit s.
void write_band_statistics(const BandStatistics& stats, const std::filesystem::path& file);
// Throws std::runtime_error naming the file (and the OS's reason) when it cannot be read or parsed.
BandStatistics read_band_statistics(const std::filesystem::path& file);

}  // namespace xp::data
