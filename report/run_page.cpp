#include "run_page.h"

#include <algorithm>
#include <map>
#include <set>

#include "curves.h"
#include "ensemble_members.h"
#include "html_page.h"
#include "provenance.h"
#include "run_json.h"
#include "run_report.h"
#include "task_panels.h"
#include "text_table.h"
#include "vega_charts.h"

namespace xp::report {

using nlohmann::json;
using registry::format_value;

std::string run_page_html(RunRegistry& registry, const RunRecord& run, size_t max_curve_points) {
  const auto& i = run.info;
  HtmlPage page("xp run " + run.id + " (" + run_status_name(run.status) + ")",
                i.experiment + (i.variant.empty() ? "" : ", variant " + i.variant) + ", seed " + std::to_string(i.seed));

  // Provenance as a two-column table.
  HtmlTable info({"field", "value"}, "provenance");
  auto add = [&](const std::string& k, const std::string& v) { info.add_row({Cell(k), Cell(v.empty() ? "-" : v)}); };
  add("status", run_status_name(run.status));
  if (!run.message.empty()) add("message", run.message);
  add("experiment", i.experiment);
  add("variant", i.variant);
  add("seed", std::to_string(i.seed));
  add("started", registry::format_time(run.start_time));
  add("ended", run.end_time ? registry::format_time(run.end_time) : "");
  add("duration", run.duration ? registry::format_duration(*run.duration) : "");
  add("host", i.host + " (pid " + std::to_string(i.pid) + ")");
  add("device", i.device);
  add("command", i.command_line);
  add("versions", "xp " + (i.xp_version.empty() ? "?" : i.xp_version) + ", LibTorch " +
                      (i.torch_version.empty() ? "?" : i.torch_version) + ", CUDA " + (i.cuda_version.empty() ? "-" : i.cuda_version));
  add("git", (i.git_commit.empty() ? "-" : i.git_commit) + (i.git_dirty ? " + uncommitted changes (diff below)" : ""));
  add("config sha256", i.config_hash);
  add("run dir", i.run_dir);
  for (const auto& [k, v] : i.tags) add("tag " + k, v);
  std::string top = info.html();
  page.section("run", "Run", top);

  if (!run.summary.empty()) {
    HtmlTable t({"metric", "value"}, "summary");
    size_t in_panels = 0;
    for (const auto& n : run.summary_order) {
      if (registry::is_panel_metric(n)) {  // per-class/threshold/bin values: drawn in the task panels
        ++in_panels;
        continue;
      }
      double v = run.summary.at(n);
      t.add_row({Cell(n), Cell::number(v, format_value(v, 6))});
    }
    page.section("summary", "Summary",
                 t.html() + (in_panels ? "<p class=\"note\">" + std::to_string(in_panels) +
                                             " per-class, per-threshold and per-bin values are drawn in the task "
                                             "panels below.</p>\n"
                                       : std::string()));
  }

  const auto members = registry::ensemble_members(run);
  if (registry::is_ensemble(run)) {
    std::string body;
    std::vector<json> rows_by_metric(run.summary_order.size(), json::array());
    HtmlTable t({"member", "experiment", "variant", "seed", "status"}, "members");
    for (size_t k = 0; k < run.summary_order.size(); ++k)
      rows_by_metric[k].push_back({{"name", "ensemble " + run.id}, {"value", run.summary.at(run.summary_order[k])}, {"role", "ensemble"}});
    for (const auto& id : members) {
      auto m = registry.get_run(id);
      if (!m) {
        t.add_row({Cell(id), Cell("(deleted)"), Cell("-"), Cell("-"), Cell("-")});
        continue;
      }
      t.add_row({Cell(id), Cell(m->info.experiment), Cell(m->info.variant), Cell(std::to_string(m->info.seed)),
                 Cell(run_status_name(m->status))},
                std::string("status-") + run_status_name(m->status));
      for (size_t k = 0; k < run.summary_order.size(); ++k) {
        auto it = m->summary.find(run.summary_order[k]);
        if (it != m->summary.end() && std::isfinite(it->second))
          rows_by_metric[k].push_back({{"name", "member " + id}, {"value", it->second}, {"role", "member"}});
      }
    }
    for (size_t k = 0; k < run.summary_order.size(); ++k)
      if (rows_by_metric[k].size() > 1) body += page.chart(members_chart(run.summary_order[k], rows_by_metric[k]));
    page.section("members", "Members vs ensemble (" + std::to_string(members.size()) + " members)", t.html() + body);
  }

  // Curves: one chart per base metric, train and val together.
  auto history = registry.metric_history(run.id);
  auto series = run_series(history);
  std::map<std::string, std::vector<std::string>> bases;
  for (const auto& [name, points] : series)
    if (name.find("cm_") == std::string::npos && name.find("_class_") == std::string::npos &&
        name.find("obj_precision_") == std::string::npos && name.find("obj_recall_") == std::string::npos)
      bases[split_metric_name(name).base].push_back(name);
  std::string curves;
  for (const auto& [base, names] : bases) {
    json rows = json::array();
    std::vector<std::string> splits;
    for (const auto& name : names) {
      std::string split = split_metric_name(name).split;
      if (split.empty()) split = "-";
      splits.push_back(split);
      json line = {{"group", split}, {"split", split}};
      for (const char* f : {"epoch", "step", "mean", "std", "lo", "hi", "n"}) line[f] = json::array();
      for (const auto& p : downsample(series[name], max_curve_points)) {
        line["epoch"].push_back(p.epoch);
        line["step"].push_back(p.step);
        for (const char* f : {"mean", "lo", "hi"}) line[f].push_back(chart_number(p.value));
        line["std"].push_back(0);
        line["n"].push_back(1);
      }
      rows.push_back(std::move(line));
    }
    curves += page.chart(learning_curve_chart(base, rows, json::array(), splits, "split"));
  }
  if (!curves.empty()) page.section("curves", "Learning curves", curves);

  auto panels = task_panels({{run.id, run.metrics()}});
  if (!panels.empty()) {
    std::string body;
    std::vector<std::string> one = {run.id};
    for (const auto& [split, rows] : panels.confusion)
      body += page.chart(confusion_chart("confusion matrix (" + (split.empty() ? "-" : split) + ", share of each true class)", rows));
    for (const auto& [split, rows] : panels.f1) body += page.chart(per_class_chart("f1 per class (" + split + ")", rows, one));
    for (const auto& [split, rows] : panels.recall) body += page.chart(per_class_chart("recall per class (" + split + ")", rows, one));
    for (const auto& [split, rows] : panels.pr)
      body += page.chart(pr_chart("object precision-recall over IoU thresholds (" + split + ")", rows, one));
    for (const auto& [split, rows] : panels.reliability)
      body += page.chart(reliability_chart("reliability diagram (" + (split.empty() ? "-" : split) + ")", rows, one),
                         "dot area: the bin's share of the predictions; dashed: after temperature scaling");
    page.section("tasks", "Task panels", body);
  }

  // Every epoch's values, as `xp show` prints them.
  std::vector<std::string> names;
  std::set<std::string> seen;
  std::map<std::pair<int64_t, int64_t>, std::map<std::string, double>> rows;
  for (const auto& p : history) {
    if (seen.insert(p.name).second) names.push_back(p.name);
    rows[{p.epoch, p.step}][p.name] = p.value;
  }
  if (!rows.empty()) {
    std::vector<std::string> header = {"epoch", "step"};
    header.insert(header.end(), names.begin(), names.end());
    HtmlTable t(header, "epochs");
    for (const auto& [key, values] : rows) {
      std::vector<Cell> row = {Cell::number(double(key.first), std::to_string(key.first)),
                               Cell::number(double(key.second), std::to_string(key.second))};
      for (const auto& n : names) {
        auto it = values.find(n);
        row.push_back(it == values.end() ? Cell("-") : Cell::number(it->second, format_value(it->second, 5)));
      }
      t.add_row(row);
    }
    page.section("epochs", "Metrics per epoch", "<details><summary>" + std::to_string(rows.size()) + " rows</summary>" + t.html() + "</details>");
  }

  auto artifacts = registry.artifacts(run.id);
  if (!artifacts.empty()) {
    HtmlTable t({"kind", "size", "sha256", "path"}, "artifacts");
    for (const auto& a : artifacts)
      t.add_row({Cell(a.kind.empty() ? "-" : a.kind), a.size < 0 ? Cell("missing") : Cell::number(double(a.size), std::to_string(a.size)),
                 Cell(a.sha256.substr(0, 16)), Cell(a.path)});
    page.section("artifacts", "Artifacts", t.html());
  }
  if (!i.config_text.empty()) page.section("config", "Config", "<pre>" + html_escape(i.config_text) + "</pre>");
  if (i.git_dirty && !i.git_diff.empty())
    page.section("diff", "Git diff (uncommitted changes)", "<details><summary>show</summary><pre>" + html_escape(i.git_diff) + "</pre></details>");
  json j = registry::run_to_json(run);
  page.data("run", j);
  return page.html();
}

}  // namespace xp::report
