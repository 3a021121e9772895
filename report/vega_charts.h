#pragma once
// The Vega-Lite specs of xp's HTML pages, written from data rows (JSON arrays of objects). Every
// chart is one function so that the study, sweep and run pages draw the same thing the same way.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace xp::report {

// A number for a chart: 6 significant digits are all a plot can show, and a third of the bytes.
nlohmann::json chart_number(double v);

// Learning curve of one metric, in columns (one object per line, Vega-Lite's flatten transform
// makes the rows: a third of the size of row objects). `means`: {group, split, epoch: [], step: [],
// mean: [], std: [], lo: [], hi: [], n: []} (lo/hi = mean ∓ std); `seeds`: {group, split, run,
// epoch: [], step: [], value: []}, drawn thin when the reader ticks "each seed". The reader picks
// epoch or step for the x axis. `groups` fixes the colour order; `color_title` names it. Without
// seed lines there is no "each seed" box.
nlohmann::json learning_curve_chart(const std::string& title, const nlohmann::json& means, const nlohmann::json& seeds,
                                    const std::vector<std::string>& groups, const std::string& color_title = "variant");

// Per-seed strip plot of one summary metric: `points` {group, value: []}, one dot per value, and
// `summary` {group, mean, ci_low, ci_high, n, p_value}: the mean as a tick and its 95% CI as a bar.
nlohmann::json strip_chart(const std::string& metric, const nlohmann::json& points, const nlohmann::json& summary,
                           const std::vector<std::string>& groups);

// Confusion matrices, one panel per `facet` value: `cells` {facet, truth, pred, count, rate}.
nlohmann::json confusion_chart(const std::string& title, const nlohmann::json& cells);
// Per-class values (F1, recall): `rows` {group, class, value}, bars side by side per class.
nlohmann::json per_class_chart(const std::string& title, const nlohmann::json& rows, const std::vector<std::string>& groups);
// Precision-recall over thresholds: `rows` {group, threshold, precision, recall}.
nlohmann::json pr_chart(const std::string& title, const nlohmann::json& rows, const std::vector<std::string>& groups);
// Reliability diagram: `rows` {group, calibration ("before"|"after"), bin, conf, freq, share}: the
// observed rate against the mean predicted probability per bin (dot area: the bin's share of the
// predictions), the diagonal a calibrated model lies on; dashed lines after temperature scaling.
nlohmann::json reliability_chart(const std::string& title, const nlohmann::json& rows, const std::vector<std::string>& groups);
// Grouped bars: `rows` {metric, name, value, role}; role "ensemble" is drawn dark, members light.
nlohmann::json members_chart(const std::string& metric, const nlohmann::json& rows);

// Sweeps. `trials` {trial, state, value, shown, best_so_far, finished (ms since epoch), p0, p1, ...}.
nlohmann::json sweep_history_chart(const std::string& metric, const nlohmann::json& trials);
// Objective against one parameter, whose values are in `field` (field names are plain: Vega-Lite
// reads "loss.gamma" as a nested path); `categorical`: the values are names.
nlohmann::json sweep_param_chart(const std::string& metric, const std::string& param, const std::string& field,
                                 bool categorical, bool log_scale, const nlohmann::json& trials);
// Parallel coordinates: `rows` {trial, axis, position (0..1), label, objective, state}; `axes` in order.
nlohmann::json parallel_chart(const std::string& metric, const nlohmann::json& rows, const std::vector<std::string>& axes);

}  // namespace xp::report
