#pragma once
// `xp report`: compares the groups of an experiment's runs (by variant or by config keys) on one
// or more metrics: n, mean ± sample std, min, max, 95% Student-t interval of the mean, and
// Welch's t-test of each group against a baseline group.

#include <optional>
#include <string>
#include <vector>

#include "run_registry.h"
#include "statistics.h"

namespace xp::registry {

struct ReportOptions {
  std::string experiment;
  // empty: the [experiment] metric, the checkpoint monitor and the metric plugins' test metrics,
  // as the newest run recorded them (else the experiment's first summary metric)
  std::vector<std::string> metrics;
  std::optional<bool> maximize;               // --mode; default from the metric's name (loss -> min)
  std::vector<std::string> group_by = {"variant"};  // "variant", a config key "loss.gamma", or any field
  // empty, grouped by variant: the [experiment] baseline, else the variant the file declares first
  // (as the runs recorded them); else group "baseline" if present, else the first group
  std::string baseline;
  std::string summary = "best";               // per run: "best" epoch value, or "final" epoch value
  bool all_status = false;                    // false: finished runs only
  std::string where;                          // extra filter (where_expr.h)
};

struct MetricSummary {
  std::vector<double> values;  // one per run that has the metric
  double mean = 0, std = 0, min = 0, max = 0, ci95 = 0;  // ci95: half width; NaN for n < 2
  std::optional<stats::WelchResult> vs_baseline;         // absent for the baseline itself or n < 2
};

struct ReportGroup {
  std::string label;
  std::vector<std::string> run_ids;
  std::vector<MetricSummary> metrics;  // parallel to Report::metrics
};

struct Report {
  std::string experiment, summary, baseline;
  std::string baseline_reason;  // "--baseline", "[experiment] baseline", "declared first", "named baseline", "first group"
  std::vector<std::string> metrics;
  std::vector<bool> maximize;  // parallel to metrics
  std::vector<std::string> statuses;
  std::vector<ReportGroup> groups;
  std::string best;            // group with the best mean of metrics[0]
  std::optional<double> best_p_value;  // Welch p of best vs baseline
  bool significant = false;    // best != baseline and p < 0.05
  std::string conclusion;      // one sentence for people
};

// Throws xp::ConfigError for an unknown experiment, metric, group key or baseline (did-you-mean).
Report build_report(RunRegistry& registry, const ReportOptions& options);

// Per-class, per-threshold and per-bin values (confusion matrix cells, f1_class_3, obj_precision_30,
// reliability bins): they feed the HTML page's task panels, not the default report metrics.
bool is_panel_metric(const std::string& name);

// The default --mode for a metric: minimize names that look like losses or errors.
bool default_maximize(const std::string& metric);

}  // namespace xp::registry
