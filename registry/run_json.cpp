#include "run_json.h"

#include <cmath>

#include "text_table.h"

namespace xp::registry {

nlohmann::json json_number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json run_to_json(const RunRecord& run) {
  auto opt_time = [](const std::optional<double>& t) { return t ? nlohmann::json(format_iso_utc(t)) : nlohmann::json(nullptr); };
  nlohmann::json metrics = nlohmann::json::object();
  for (const auto& [k, v] : run.metrics()) metrics[k] = json_number(v);
  nlohmann::json j = {
      {"id", run.id},
      {"experiment", run.info.experiment},
      {"variant", run.info.variant},
      {"seed", run.info.seed},
      {"status", run_status_name(run.status)},
      {"message", run.message},
      {"start", format_iso_utc(run.start_time)},
      {"end", opt_time(run.end_time)},
      {"duration_s", run.duration ? json_number(*run.duration) : nlohmann::json(nullptr)},
      {"host", run.info.host},
      {"pid", run.info.pid},
      {"git_commit", run.info.git_commit},
      {"git_dirty", run.info.git_dirty},
      {"config_hash", run.info.config_hash},
      {"run_dir", run.info.run_dir},
      {"tags", run.info.tags},
      {"metrics", metrics},
  };
  return j;
}

nlohmann::json report_to_json(const Report& report) {
  nlohmann::json metrics = nlohmann::json::array();
  for (size_t i = 0; i < report.metrics.size(); ++i)
    metrics.push_back({{"name", report.metrics[i]}, {"mode", report.maximize[i] ? "max" : "min"}});
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& g : report.groups) {
    nlohmann::json per_metric = nlohmann::json::object();
    for (size_t i = 0; i < report.metrics.size(); ++i) {
      const auto& m = g.metrics[i];
      nlohmann::json entry = {
          {"n", m.values.size()},      {"mean", json_number(m.mean)},
          {"std", json_number(m.std)}, {"min", json_number(m.min)},
          {"max", json_number(m.max)}, {"ci95", json_number(m.ci95)},
          {"ci95_low", json_number(m.mean - m.ci95)}, {"ci95_high", json_number(m.mean + m.ci95)},
          {"values", m.values},
      };
      if (m.vs_baseline) {
        entry["p_value"] = json_number(m.vs_baseline->p_value);
        entry["t"] = json_number(m.vs_baseline->t);
        entry["df"] = json_number(m.vs_baseline->df);
      } else {
        entry["p_value"] = nullptr;
      }
      per_metric[report.metrics[i]] = entry;
    }
    groups.push_back({{"group", g.label}, {"n", g.run_ids.size()}, {"runs", g.run_ids}, {"metrics", per_metric}});
  }
  return {
      {"experiment", report.experiment},
      {"summary", report.summary},
      {"statuses", report.statuses},
      {"metrics", metrics},
      {"baseline", report.baseline},
      {"baseline_reason", report.baseline_reason},
      {"groups", groups},
      {"best", {{"group", report.best},
                {"metric", report.metrics.empty() ? "" : report.metrics[0]},
                {"p_value", report.best_p_value ? json_number(*report.best_p_value) : nlohmann::json(nullptr)},
                {"significant", report.significant}}},
      {"conclusion", report.conclusion},
  };
}

}  // namespace xp::registry
