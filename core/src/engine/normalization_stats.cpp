#include "engine/normalization_stats.h"

#include <sstream>

#include "xp/errors.h"
#include "xp/plugin_registry.h"

namespace xp::engine {

namespace fs = std::filesystem;

namespace {

bool asks_for_train(const Params& p) {
  return p.plugin() == "normalize" && p.has("stats") && p.get("stats").type() == Value::Type::String &&
         p.get_string("stats") == "train";
}

std::vector<double> percentiles_of(const Params& p) {
  return p.has("clip_percentiles") ? p.get_floats("clip_percentiles") : std::vector<double>{};
}

Value float_list(const std::vector<double>& v) { return Value(Value::List(v.begin(), v.end())); }

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

bool wants_training_statistics(const RunSpec& spec) {
  for (const auto* list : {&spec.augment, &spec.eval_augment})
    for (const auto& p : *list)
      if (asks_for_train(p)) return true;
  return false;
}

Params apply_statistics(const Params& normalize, const data::BandStatistics& stats) {
  return normalize.with("stats", Value(std::string()))
      .with("mean", float_list(stats.mean))
      .with("std", float_list(stats.std))
      .with("max_pixel_value", Value(1.0))
      .with("clip_low", float_list(stats.clip_low))
      .with("clip_high", float_list(stats.clip_high));
}

RunSpec with_recorded_statistics(const RunSpec& spec, const fs::path& run_dir) {
  if (!wants_training_statistics(spec)) return spec;
  const fs::path file = run_dir / kNormalizationStatsFile;
  if (!fs::exists(file))
    throw ConfigError("the run in " + run_dir.string() + " normalizes with stats = \"train\" but has no " +
                      kNormalizationStatsFile + " (it was recorded before training started?)");
  return resolve_normalization_stats(spec, run_dir).spec;
}

ResolvedStatistics resolve_normalization_stats(const RunSpec& spec, const fs::path& run_dir, std::ostream* log) {
  ResolvedStatistics out;
  out.spec = spec;
  if (!wants_training_statistics(spec)) return out;
  // Every normalize asking for them must agree on the clipping: one set of statistics per run.
  std::optional<std::vector<double>> percentiles;
  std::string where;
  for (const auto* list : {&spec.augment, &spec.eval_augment})
    for (const auto& p : *list) {
      if (!asks_for_train(p)) continue;
      if (percentiles && *percentiles != percentiles_of(p))
        throw ConfigError("normalize: every stats = \"train\" normalize of a run must use the same clip_percentiles "
                          "(one set of statistics is computed per run)",
                          p.where());
      percentiles = percentiles_of(p);
      where = p.where();
    }
  auto dataset = create<Dataset>(spec.data);
  const DatasetInfo info = dataset->info();
  if (!run_dir.empty()) out.file = run_dir / kNormalizationStatsFile;
  if (!out.file.empty() && fs::exists(out.file)) {
    out.stats = data::read_band_statistics(out.file);
    if (out.stats->clip_percentiles != *percentiles)
      throw ConfigError("normalize: " + out.file.string() + " was computed with other clip_percentiles than the "
                        "config asks for", where);
    if (!out.stats->bands.empty() && !info.band_names.empty() && out.stats->bands != info.band_names)
      throw ConfigError("normalize: " + out.file.string() + " holds statistics of the bands [" + joined(out.stats->bands) +
                        "] but the dataset gives [" + joined(info.band_names) + "]", where);
  } else {
    data::BandStatisticsOptions options;
    options.clip_percentiles = *percentiles;
    auto train = dataset->split("train");
    if (log) *log << "normalization statistics: " << train->size() << " training samples ..." << std::flush;
    try {
      out.stats = data::compute_band_statistics(*train, options, info.band_names);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(std::string("normalize: ") + e.what(), where);
    }
    out.computed = true;
    if (log) {
      std::ostringstream os;
      for (size_t k = 0; k < out.stats->mean.size(); ++k)
        os << (k ? ", " : "") << (out.stats->bands.empty() ? "band " + std::to_string(k) : out.stats->bands[k]) << " "
           << out.stats->mean[k] << " +- " << out.stats->std[k];
      *log << " done (" << os.str() << ")\n";
    }
    if (!out.file.empty()) data::write_band_statistics(*out.stats, out.file);
  }
  for (auto* list : {&out.spec.augment, &out.spec.eval_augment})
    for (auto& p : *list)
      if (asks_for_train(p)) p = apply_statistics(p, *out.stats);
  return out;
}

}  // namespace xp::engine
