#include "run_report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "param_value.h"
#include "sqlite_db.h"
#include "xp/base/suggest.h"
#include "text_table.h"
#include "where_expr.h"
#include "xp/errors.h"

namespace xp::registry {
namespace {

void bind_all(sql::Statement& st, const std::vector<SqlArg>& args) {
  int i = 1;
  for (const auto& a : args) {
    if (auto p = std::get_if<int64_t>(&a)) st.bind(i, *p);
    else if (auto d = std::get_if<double>(&a)) st.bind(i, *d);
    else st.bind(i, std::get<std::string>(a));
    ++i;
  }
}

std::vector<std::string> column_strings(sql::Database& db, const std::string& sql, const std::vector<SqlArg>& args) {
  auto st = db.prepare(sql);
  bind_all(st, args);
  std::vector<std::string> out;
  while (st.step()) out.push_back(st.text(0));
  return out;
}

struct GroupKey {
  std::string name;  // as the user wrote it, for labels
  SqlFragment value;
};

// "variant", "seed", "tags.X" and "params.X" are fields; anything else is a config key.
GroupKey group_key(sql::Database& db, const std::string& experiment, const std::string& key) {
  if (key == "variant") return {key, {"r.variant", {}}};
  std::string param = key.rfind("params.", 0) == 0 ? key.substr(7) : key;
  const auto& plain = where_plain_fields();
  bool is_field = std::find(plain.begin(), plain.end(), key) != plain.end() || key.rfind("tags.", 0) == 0 ||
                  key.rfind("metrics.", 0) == 0;
  if (is_field) return {key, field_value_sql(key, db.dialect())};
  auto found = column_strings(
      db, "SELECT p.key FROM params p JOIN runs r ON r.rid = p.rid WHERE r.experiment = ? AND p.key = ? LIMIT 1",
      {experiment, param});
  if (found.empty()) {
    auto keys = column_strings(db,
                               "SELECT p.key FROM params p WHERE p.rid = (SELECT MAX(rid) FROM runs WHERE "
                               "experiment = ?)",
                               {experiment});
    keys.insert(keys.end(), plain.begin(), plain.end());
    throw ConfigError("--group-by: no run of '" + experiment + "' has a config key '" + param + "'" +
                      did_you_mean(param, keys));
  }
  return {key, {"(SELECT p.value FROM params p WHERE p.rid = r.rid AND p.key = ?)", {param}}};
}

std::string default_metric(sql::Database& db, const std::string& experiment) {
  auto summary = column_strings(db,
                                "SELECT s.name FROM summary s WHERE s.rid = (SELECT MAX(r.rid) FROM runs r JOIN "
                                "summary x ON x.rid = r.rid WHERE r.experiment = ?) ORDER BY s.seq LIMIT 1",
                                {experiment});
  if (!summary.empty()) return summary[0];
  auto series = column_strings(db,
                               "SELECT ms.name FROM metric_stats ms WHERE ms.rid = (SELECT MAX(r.rid) FROM runs r "
                               "JOIN metric_stats x ON x.rid = r.rid WHERE r.experiment = ?) "
                               "ORDER BY ms.name NOT LIKE 'val\\_%' ESCAPE '\\', ms.name",
                               {experiment});
  if (!series.empty()) return series[0];
  throw ConfigError("experiment '" + experiment + "' has no recorded metrics yet");
}

// What the experiment's runs recorded about how the study is to be reported (tags written by
// `xp run`, see registry.md): the [experiment] baseline and metric, the variants in the order the
// file declares them, and the checkpoint monitor with its mode. From the newest run that has each.
struct StudyDefaults {
  std::string baseline, metric, monitor;
  std::optional<bool> monitor_maximize;
  std::vector<std::string> variants;   // declared order
  std::vector<std::string> test;       // the test metrics of the metric plugins, in recorded order
};

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string unquoted(std::string v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  return v;
}

StudyDefaults study_defaults(sql::Database& db, const std::string& experiment) {
  StudyDefaults d;
  auto tag = [&](const std::string& key) {
    auto v = column_strings(db,
                            "SELECT t.value FROM tags t WHERE t.key = ?2 AND t.rid = (SELECT MAX(r.rid) FROM runs r "
                            "JOIN tags x ON x.rid = r.rid AND x.key = ?2 WHERE r.experiment = ?1)",
                            {experiment, key});
    return v.empty() ? std::string() : v[0];
  };
  d.baseline = tag("report_baseline");
  d.metric = tag("report_metric");
  d.variants = split_commas(tag("report_variants"));

  // The monitor: the run's summary keeps its best value as best_<monitor> (fit_loop.cpp).
  auto best = column_strings(db,
                             "SELECT s.name FROM summary s WHERE s.name LIKE 'best\\_%' ESCAPE '\\' AND "
                             "s.name <> 'best_epoch' AND s.rid = (SELECT MAX(r.rid) FROM runs r JOIN summary x ON "
                             "x.rid = r.rid AND x.name LIKE 'best\\_%' ESCAPE '\\' AND x.name <> 'best_epoch' "
                             "WHERE r.experiment = ?) ORDER BY s.seq LIMIT 1",
                             {experiment});
  if (!best.empty()) {
    d.monitor = best[0].substr(5);
    auto mode = column_strings(db,
                               "SELECT m.value FROM params m JOIN params k ON k.rid = m.rid AND k.key = "
                               "'train.checkpoint.monitor' WHERE m.key = 'train.checkpoint.mode' AND m.rid = (SELECT "
                               "MAX(r.rid) FROM runs r JOIN summary x ON x.rid = r.rid AND x.name = ? WHERE "
                               "r.experiment = ?) AND k.value IN (?, ?)",
                               {best[0], experiment, d.monitor, "\"" + d.monitor + "\""});
    if (!mode.empty() && (unquoted(mode[0]) == "max" || unquoted(mode[0]) == "min"))
      d.monitor_maximize = unquoted(mode[0]) == "max";
  }

  // The test metrics: test_<output> of every metric plugin output; not the loss, the test epoch,
  // the calibrated re-test (test_cal_*, named with --metric) or the per-class/threshold/bin series.
  auto test = column_strings(db,
                             "SELECT s.name FROM summary s WHERE s.name LIKE 'test\\_%' ESCAPE '\\' AND s.rid = "
                             "(SELECT MAX(r.rid) FROM runs r JOIN summary x ON x.rid = r.rid AND x.name LIKE "
                             "'test\\_%' ESCAPE '\\' WHERE r.experiment = ?) ORDER BY s.seq, s.name",
                             {experiment});
  for (const auto& name : test)
    if (name != "test_loss" && name != "test_epoch" && name.rfind("test_cal_", 0) != 0 && !is_panel_metric(name))
      d.test.push_back(name);
  return d;
}

void check_metric(sql::Database& db, const std::string& experiment, const std::string& metric) {
  auto run = column_strings(db, "SELECT MAX(rid) FROM runs WHERE experiment = ?", {experiment});
  auto has = column_strings(db,
                            "SELECT 1 FROM runs r WHERE r.experiment = ?1 AND (EXISTS (SELECT 1 FROM summary s "
                            "WHERE s.rid = r.rid AND s.name = ?2) OR EXISTS (SELECT 1 FROM metric_stats ms WHERE "
                            "ms.rid = r.rid AND ms.name = ?2)) LIMIT 1",
                            {experiment, metric});
  if (!has.empty()) return;
  auto names = column_strings(db,
                              "SELECT DISTINCT name FROM (SELECT s.name FROM summary s JOIN runs r ON r.rid = s.rid "
                              "WHERE r.experiment = ?1 UNION SELECT ms.name FROM metric_stats ms JOIN runs r ON "
                              "r.rid = ms.rid WHERE r.experiment = ?1) AS metric_names",
                              {experiment});
  std::string all;
  for (size_t i = 0; i < names.size() && i < 12; ++i) all += (i ? ", " : "") + names[i];
  std::string hint = did_you_mean(metric, names);
  throw ConfigError("no run of '" + experiment + "' has a metric '" + metric + "'" +
                    (hint.empty() ? " (metrics: " + all + ")" : hint));
}

bool numeric_less(const std::string& a, const std::string& b) {
  auto x = param_number(a), y = param_number(b);
  if (x && y && *x != *y) return *x < *y;
  if (x.has_value() != y.has_value()) return x.has_value();
  return a < b;
}

MetricSummary summarize(std::vector<double> values) {
  MetricSummary m;
  m.values = std::move(values);
  m.mean = stats::mean(m.values);
  m.std = stats::sample_std(m.values);
  m.min = m.values.empty() ? NAN : *std::min_element(m.values.begin(), m.values.end());
  m.max = m.values.empty() ? NAN : *std::max_element(m.values.begin(), m.values.end());
  m.ci95 = stats::ci95_half_width(m.values);
  return m;
}

}  // namespace

bool is_panel_metric(const std::string& name) {
  for (const char* part : {"cm_", "_class_", "obj_precision_", "obj_recall_", "reliability_"})
    if (name.find(part) != std::string::npos) return true;
  return false;
}

bool default_maximize(const std::string& metric) {
  std::string m = metric;
  for (auto& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* low : {"loss", "error", "err", "mse", "mae", "rmse", "perplexity", "time", "latency", "fpr", "fnr"})
    if (m.find(low) != std::string::npos) return false;
  return true;
}

Report build_report(RunRegistry& registry, const ReportOptions& options) {
  auto& db = registry.database();
  registry.flush();
  Report report;
  report.experiment = options.experiment;
  report.summary = options.summary;
  if (options.summary != "best" && options.summary != "final")
    throw ConfigError("--summary must be 'best' or 'final', not '" + options.summary + "'");
  auto experiments = registry.experiments();
  if (std::find(experiments.begin(), experiments.end(), options.experiment) == experiments.end())
    throw ConfigError("no runs of experiment '" + options.experiment + "' in " + registry.path().string() +
                      did_you_mean(options.experiment, experiments));

  const StudyDefaults study = study_defaults(db, options.experiment);
  report.metrics = options.metrics;
  if (report.metrics.empty()) {
    // The study's answer: its [experiment] metric, the checkpoint monitor, the plugins' test metrics.
    auto add = [&](const std::string& m) {
      if (!m.empty() && std::find(report.metrics.begin(), report.metrics.end(), m) == report.metrics.end())
        report.metrics.push_back(m);
    };
    add(study.metric);
    add(study.monitor);
    for (const auto& t : study.test) add(t);
    if (report.metrics.empty()) report.metrics.push_back(default_metric(db, options.experiment));
  }
  for (const auto& m : report.metrics) {
    check_metric(db, options.experiment, m);
    bool by_name = default_maximize(m);
    if (m == study.monitor && study.monitor_maximize) by_name = *study.monitor_maximize;
    report.maximize.push_back(options.maximize.value_or(by_name));
  }
  report.statuses = options.all_status ? run_status_names() : std::vector<std::string>{"finished"};

  std::vector<GroupKey> keys;
  for (const auto& k : options.group_by.empty() ? std::vector<std::string>{"variant"} : options.group_by)
    keys.push_back(group_key(db, options.experiment, k));

  std::map<std::string, ReportGroup> groups;
  std::map<std::string, std::vector<std::vector<double>>> values;  // label -> per metric values
  std::set<std::string> runs_seen;
  for (size_t mi = 0; mi < report.metrics.size(); ++mi) {
    const std::string& metric = report.metrics[mi];
    std::string sql = "SELECT r.id";
    std::vector<SqlArg> args;
    for (const auto& k : keys) {
      sql += ", " + k.value.sql;
      args.insert(args.end(), k.value.args.begin(), k.value.args.end());
    }
    sql +=
        ", s.value, ms.final, ms.min, ms.max, s.rid IS NOT NULL, ms.rid IS NOT NULL FROM runs r"
        " LEFT JOIN summary s ON s.rid = r.rid AND s.name = ?"
        " LEFT JOIN metric_stats ms ON ms.rid = r.rid AND ms.name = ?"
        " WHERE r.experiment = ?";
    args.emplace_back(metric);
    args.emplace_back(metric);
    args.emplace_back(options.experiment);
    if (!options.all_status) sql += " AND r.status = 'finished'";
    if (!options.where.empty()) {
      auto where = compile_where(options.where, db.dialect());
      sql += " AND " + where.sql;
      args.insert(args.end(), where.args.begin(), where.args.end());
    }
    sql += " ORDER BY r.rid";
    auto st = db.prepare(sql);
    bind_all(st, args);
    while (st.step()) {
      std::string id = st.text(0);
      std::string label;
      for (size_t k = 0; k < keys.size(); ++k) {
        std::string v = st.is_null(int(k) + 1) ? "-" : st.text(int(k) + 1);
        if (keys.size() == 1) label = v.empty() ? "(none)" : v;
        else label += (k ? ", " : "") + keys[k].name + "=" + v;
      }
      int c = int(keys.size()) + 1;
      bool has_summary = st.int64(c + 4) != 0, has_series = st.int64(c + 5) != 0;
      std::optional<double> v;
      if (options.summary == "best") {
        if (has_series) v = report.maximize[mi] ? st.real_or_null(c + 3) : st.real_or_null(c + 2);
        else if (has_summary) v = st.real_or_null(c);
      } else {
        if (has_summary) v = st.real_or_null(c);
        else if (has_series) v = st.real_or_null(c + 1);
      }
      auto& g = groups[label];
      g.label = label;
      auto& per_metric = values[label];
      per_metric.resize(report.metrics.size());
      if (!runs_seen.count(label + "\n" + id)) {
        runs_seen.insert(label + "\n" + id);
        g.run_ids.push_back(id);
      }
      if (v && !std::isnan(*v)) per_metric[mi].push_back(*v);
    }
  }
  if (groups.empty())
    throw ConfigError("no " + std::string(options.all_status ? "" : "finished ") + "runs of '" + options.experiment +
                      "' match" + (options.all_status ? "" : " (--all-status includes running, failed, ... runs)"));

  // Groups in the order the experiment file declares its variants (the rest after them, sorted).
  const bool by_variant = keys.size() == 1 && keys[0].name == "variant";
  std::vector<std::string> labels;
  for (const auto& [label, g] : groups) labels.push_back(label);
  std::sort(labels.begin(), labels.end(), numeric_less);
  if (by_variant && !study.variants.empty()) {
    auto rank = [&](const std::string& label) {
      auto it = std::find(study.variants.begin(), study.variants.end(), label);
      return it - study.variants.begin();
    };
    std::stable_sort(labels.begin(), labels.end(),
                     [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
  }
  for (const auto& label : labels) {
    auto g = groups[label];
    for (auto& v : values[label]) g.metrics.push_back(summarize(v));
    report.groups.push_back(std::move(g));
  }

  if (!options.baseline.empty()) {
    if (!groups.count(options.baseline))
      throw ConfigError("--baseline: no group '" + options.baseline + "'" + did_you_mean(options.baseline, labels) +
                        " (groups: " + [&] {
                          std::string s;
                          for (size_t i = 0; i < labels.size(); ++i) s += (i ? ", " : "") + labels[i];
                          return s;
                        }() + ")");
    report.baseline = options.baseline;
    report.baseline_reason = "--baseline";
  } else if (by_variant && !study.baseline.empty() && groups.count(study.baseline)) {
    report.baseline = study.baseline;
    report.baseline_reason = "[experiment] baseline";
  } else if (by_variant && !study.variants.empty() && groups.count(labels.front()) &&
             std::find(study.variants.begin(), study.variants.end(), labels.front()) != study.variants.end()) {
    report.baseline = labels.front();
    report.baseline_reason = "declared first";
  } else if (groups.count("baseline")) {
    report.baseline = "baseline";
    report.baseline_reason = "named baseline";
  } else {
    report.baseline = labels.front();
    report.baseline_reason = "first group";
  }
  const ReportGroup* base = nullptr;
  for (const auto& g : report.groups)
    if (g.label == report.baseline) base = &g;
  for (auto& g : report.groups) {
    if (&g == base) continue;
    for (size_t mi = 0; mi < report.metrics.size(); ++mi)
      g.metrics[mi].vs_baseline = stats::welch_t_test(g.metrics[mi].values, base->metrics[mi].values);
  }

  // The best group on the first metric; groups without values never win.
  const ReportGroup* best = nullptr;
  for (const auto& g : report.groups) {
    const auto& m = g.metrics[0];
    if (m.values.empty()) continue;
    if (!best || (report.maximize[0] ? m.mean > best->metrics[0].mean : m.mean < best->metrics[0].mean)) best = &g;
  }
  std::ostringstream os;
  const std::string& metric = report.metrics[0];
  if (!best) {
    os << "no run has a value for " << metric;
  } else {
    report.best = best->label;
    os << "best " << metric << " (" << (report.maximize[0] ? "max" : "min") << ", " << report.summary
       << "): '" << best->label << "' with mean " << format_value(best->metrics[0].mean);
    if (best == base) {
      os << "; it is the baseline";
    } else if (!best->metrics[0].vs_baseline) {
      os << "; no test against baseline '" << report.baseline << "' (needs >= 2 runs with values in both groups)";
    } else {
      const auto& w = *best->metrics[0].vs_baseline;
      report.best_p_value = w.p_value;
      report.significant = w.p_value < 0.05;
      double delta = best->metrics[0].mean - base->metrics[0].mean;
      os << ", " << (delta >= 0 ? "+" : "") << format_value(delta) << " vs baseline '" << report.baseline
         << "' (Welch p = " << format_value(w.p_value, 3) << "): "
         << (report.significant ? "significant at p < 0.05"
                                : "not significant at p < 0.05 (more seeds may tell)");
    }
  }
  report.conclusion = os.str();
  return report;
}

}  // namespace xp::registry
