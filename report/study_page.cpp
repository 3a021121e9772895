#include "study_page.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "curves.h"
#include "html_page.h"
#include "provenance.h"
#include "run_json.h"
#include "run_report.h"
#include "task_panels.h"
#include "text_table.h"
#include "vega_charts.h"

namespace xp::report {
namespace {

using nlohmann::json;
using registry::format_value;

std::vector<std::string> group_labels(const json& report) {
  std::vector<std::string> out;
  for (const auto& g : report["groups"]) out.push_back(g["group"].get<std::string>());
  return out;
}

double num(const json& v) { return v.is_number() ? v.get<double>() : NAN; }

std::string summary_choice(const std::string& summary, const std::string& mode) {
  if (summary == "final") return "final: the last epoch's value (or the recorded summary value)";
  return std::string("best: the ") + (mode == "max" ? "highest" : "lowest") + " value over epochs (" + mode + ")";
}

}  // namespace

json study_page_data(RunRegistry& registry, const registry::Report& report, const registry::ReportOptions& options,
                     const StudyPageLimits& limits) {
  json data;
  data["report"] = registry::report_to_json(report);
  data["group_by"] = options.group_by;

  std::map<std::string, std::string> group_of;
  for (const auto& g : report.groups)
    for (const auto& id : g.run_ids) group_of[id] = g.label;

  // Every run of the experiment, any status, so the reader sees what did not make it into the
  // table: the runs' own columns only (thousands of runs; details are read for the sampled ones).
  auto runs = experiment_runs(registry, report.experiment, options.where);
  const bool by_variant = options.group_by.empty() || options.group_by == std::vector<std::string>{"variant"};
  json listed_out = json::array(), listed_in = json::array();
  std::map<std::vector<std::string>, size_t> provenance_count;  // distinct provenance -> runs
  std::vector<std::vector<std::string>> provenance_order;
  size_t in_report = 0;
  for (const auto& r : runs) in_report += group_of.count(r.id);
  const auto listed = downsample_indices(in_report, limits.runs_listed);
  size_t in_index = 0, next_listed = 0;
  for (const auto& r : runs) {
    auto it = group_of.find(r.id);
    const auto& i = r.info;
    std::vector<std::string> prov = {i.git_commit, i.git_dirty ? "1" : "0", i.xp_version, i.torch_version, i.cuda_version, i.device};
    if (provenance_count[prov]++ == 0) provenance_order.push_back(prov);
    if (it != group_of.end()) {
      const bool list = next_listed < listed.size() && listed[next_listed] == in_index;
      ++in_index;
      if (!list) continue;
      ++next_listed;
    }
    json j = provenance_json(r);
    j["in_report"] = it != group_of.end();
    j["group"] = it != group_of.end() ? it->second : by_variant ? (i.variant.empty() ? "(none)" : i.variant) : "-";
    (it != group_of.end() ? listed_in : listed_out).push_back(std::move(j));
  }
  for (auto& j : listed_in) listed_out.push_back(std::move(j));
  data["runs"] = std::move(listed_out);
  data["runs_total"] = runs.size();
  data["runs_in_statistics"] = in_report;
  data["runs_unlisted"] = runs.size() - data["runs"].size();
  json provenance = json::array();
  for (const auto& p : provenance_order)
    provenance.push_back({{"git_commit", p[0]}, {"git_dirty", p[1] == "1"}, {"xp", p[2]}, {"torch", p[3]}, {"cuda", p[4]},
                          {"device", p[5]}, {"runs", provenance_count[p]}});
  data["provenance"] = provenance;

  // The runs read in full, per group: all of a small group, evenly spread ones of a large one.
  std::map<std::string, std::vector<std::string>> read_ids;
  json runs_read = json::object();
  for (const auto& g : report.groups) {
    for (size_t i : downsample_indices(g.run_ids.size(), limits.runs_read)) read_ids[g.label].push_back(g.run_ids[i]);
    if (read_ids[g.label].size() < g.run_ids.size()) runs_read[g.label] = read_ids[g.label].size();
  }
  data["runs_read"] = runs_read;
  std::map<std::string, std::vector<std::map<std::string, double>>> group_metrics;
  std::map<std::string, std::map<std::string, std::set<std::string>>> values;  // config key -> group -> values
  std::set<std::string> all_keys;
  for (const auto& g : report.groups)
    for (const auto& id : read_ids[g.label]) {
      auto run = registry.get_run(id);
      if (!run) continue;
      group_metrics[g.label].push_back(run->metrics());
      for (const auto& [k, v] : run->info.params) values[k][g.label].insert(v), all_keys.insert(k);
    }

  // Learning curves: per base metric (train_loss and val_loss share "loss"), per group.
  std::map<std::string, std::map<std::string, std::vector<std::vector<SeriesPoint>>>> by_metric;  // name -> group -> runs
  std::map<std::string, std::map<std::string, std::vector<std::pair<std::string, std::vector<SeriesPoint>>>>> seeds;
  const size_t per_group = std::min(limits.seed_lines, std::max<size_t>(1, limits.seed_lines_total / std::max<size_t>(1, report.groups.size())));
  for (const auto& g : report.groups) {
    size_t drawn = 0;
    for (const auto& id : read_ids[g.label]) {
      auto series = run_series(registry.metric_history(id));
      for (auto& [name, points] : series) {
        if (registry::is_panel_metric(name)) continue;
        if (drawn < per_group) seeds[name][g.label].emplace_back(id, downsample(points, limits.seed_points));
        by_metric[name][g.label].push_back(std::move(points));
      }
      ++drawn;
    }
  }
  std::map<std::string, std::vector<std::string>> bases;  // base -> full names
  for (const auto& [name, groups] : by_metric) bases[split_metric_name(name).base].push_back(name);
  std::vector<std::string> order;
  for (const auto& m : report.metrics) {
    std::string b = split_metric_name(m).base;
    if (bases.count(b) && std::find(order.begin(), order.end(), b) == order.end()) order.push_back(b);
  }
  for (const auto& [b, names] : bases)
    if (std::find(order.begin(), order.end(), b) == order.end()) order.push_back(b);
  if (order.size() > limits.curve_charts) order.resize(limits.curve_charts);
  json curves = json::array();
  for (const auto& base : order) {
    json means = json::array(), seed_lines = json::array();
    for (const auto& name : bases[base]) {
      const std::string split = split_metric_name(name).split.empty() ? "-" : split_metric_name(name).split;
      for (const auto& g : report.groups) {
        auto it = by_metric[name].find(g.label);
        if (it == by_metric[name].end()) continue;
        json line = {{"group", g.label}, {"split", split}};
        for (const char* f : {"epoch", "step", "mean", "std", "lo", "hi", "n"}) line[f] = json::array();
        for (const auto& c : downsample(mean_curve(it->second), limits.curve_points)) {
          line["epoch"].push_back(c.epoch);
          line["step"].push_back(chart_number(c.step));
          line["mean"].push_back(chart_number(c.mean));
          line["std"].push_back(chart_number(c.std));
          line["lo"].push_back(chart_number(c.mean - c.std));
          line["hi"].push_back(chart_number(c.mean + c.std));
          line["n"].push_back(c.n);
        }
        means.push_back(std::move(line));
        for (const auto& [run, points] : seeds[name][g.label]) {
          json seed = {{"group", g.label}, {"split", split}, {"run", run}, {"epoch", json::array()}, {"step", json::array()}, {"value", json::array()}};
          for (const auto& p : points) {
            seed["epoch"].push_back(p.epoch);
            seed["step"].push_back(p.step);
            seed["value"].push_back(chart_number(p.value));
          }
          seed_lines.push_back(std::move(seed));
        }
      }
    }
    curves.push_back({{"metric", base}, {"means", means}, {"seeds", seed_lines}});
  }
  data["curves"] = curves;

  // What differs between the groups: config keys whose values are not the same in every run read.
  json diff_keys = json::array(), diff_groups = json::object();
  for (const auto& key : all_keys) {
    std::set<std::string> everywhere;
    bool missing = false;
    for (const auto& g : report.groups) {
      auto it = values[key].find(g.label);
      if (it == values[key].end()) missing = true;
      else everywhere.insert(it->second.begin(), it->second.end());
    }
    if (everywhere.size() < 2 && !missing) continue;
    diff_keys.push_back(key);
    for (const auto& g : report.groups) {
      auto it = values[key].find(g.label);
      std::string shown;
      if (it == values[key].end()) shown = "(unset)";
      else
        for (const auto& v : it->second) shown += (shown.empty() ? "" : " | ") + v;
      diff_groups[g.label][key] = shown;
    }
  }
  data["config_diff"] = {{"keys", diff_keys}, {"groups", diff_groups}};

  std::vector<std::pair<std::string, std::map<std::string, double>>> labelled;
  for (const auto& g : report.groups) labelled.emplace_back(g.label, mean_metrics(group_metrics[g.label]));
  auto panels = task_panels(labelled);
  json tasks = json::object();
  for (auto [name, part] : {std::pair{"confusion", &panels.confusion}, {"f1", &panels.f1}, {"recall", &panels.recall},
                            {"pr", &panels.pr}, {"reliability", &panels.reliability}})
    for (const auto& [split, rows] : *part) tasks[name][split.empty() ? "-" : split] = rows;
  data["tasks"] = tasks;
  return data;
}

std::string render_study_page(const json& data) {
  const json& rep = data["report"];
  const auto groups = group_labels(rep);
  const std::string baseline = rep["baseline"];
  std::string statuses;
  for (const auto& s : rep["statuses"]) statuses += (statuses.empty() ? "" : ", ") + s.get<std::string>();
  HtmlPage page("xp report: " + rep["experiment"].get<std::string>(),
                std::to_string(groups.size()) + " groups, baseline '" + baseline + "', runs with status " + statuses +
                    ", summary per run: " + rep["summary"].get<std::string>());

  // The ablation table: one per metric, as in the text report.
  std::string body = "<p class=\"conclusion\">" + html_escape(rep["conclusion"].get<std::string>()) + "</p>\n";
  body += "<p class=\"note\">n: runs with a value; CI95: Student t interval of the mean; p: two-sided Welch t-test "
          "against the baseline (bold when p &lt; 0.05); the best group of each metric is highlighted. Click a "
          "column header to sort.</p>\n";
  for (const auto& metric : rep["metrics"]) {
    const std::string name = metric["name"], mode = metric["mode"];
    // The best group of this metric (the report's own verdict covers the first metric).
    std::string best;
    double best_mean = NAN;
    for (const auto& g : rep["groups"]) {
      double m = num(g["metrics"][name]["mean"]);
      if (g["metrics"][name]["n"].get<size_t>() == 0 || !std::isfinite(m)) continue;
      if (best.empty() || (mode == "max" ? m > best_mean : m < best_mean)) best = g["group"], best_mean = m;
    }
    double base_mean = NAN;
    for (const auto& g : rep["groups"])
      if (g["group"] == baseline) base_mean = num(g["metrics"][name]["mean"]);
    body += "<h3>" + html_escape(name) + " <span class=\"muted\">(" + (mode == "max" ? "higher" : "lower") +
            " is better; summary " + html_escape(summary_choice(rep["summary"], mode)) + ")</span></h3>\n";
    HtmlTable t({"group", "n", "mean", "± std", "min", "max", "CI95 low", "CI95 high", "Δ vs baseline", "p vs " + baseline},
                "ablation-" + name);
    for (const auto& g : rep["groups"]) {
      const json& m = g["metrics"][name];
      const std::string label = g["group"];
      std::vector<Cell> row;
      row.push_back(Cell(label + (label == best ? "  (best)" : "") + (label == baseline ? "  (baseline)" : "")));
      row.back().css = "f-group";
      Cell n = Cell::number(m["n"].get<double>(), std::to_string(m["n"].get<size_t>()));
      n.css = "f-n";
      row.push_back(n);
      for (const char* f : {"mean", "std", "min", "max", "ci95_low", "ci95_high"}) {
        double v = num(m[f]);
        Cell c = Cell::number(v, format_value(v, std::string(f) == "std" ? 2 : 4));
        c.css = std::string("f-") + f;
        row.push_back(c);
      }
      double mean = num(m["mean"]), delta = mean - base_mean;
      Cell d = label == baseline ? Cell("-") : Cell::number(delta, (delta >= 0 ? "+" : "") + format_value(delta));
      d.css = "f-delta";
      row.push_back(d);
      double p = num(m["p_value"]);
      Cell pc = label == baseline ? Cell("(baseline)")
                                  : Cell::number(p, p < 1e-4 ? std::string("<0.0001") : format_value(p, 3));
      pc.css = std::string("f-p_value") + (std::isfinite(p) && p < 0.05 ? " sig" : "");
      if (m.contains("t") && m["t"].is_number())
        pc.title = "t = " + format_value(num(m["t"]), 4) + ", df = " + format_value(num(m["df"]), 4);
      row.push_back(pc);
      t.add_row(row, label == best ? "best" : "");
    }
    body += t.html();
  }
  page.section("table", "Ablation table", body);

  // Per-seed strip plots: the spread behind every p-value.
  std::string strips;
  for (const auto& metric : rep["metrics"]) {
    const std::string name = metric["name"];
    json points = json::array(), summary = json::array();
    for (const auto& g : rep["groups"]) {
      const json& m = g["metrics"][name];
      json values = json::array();
      for (const auto& v : m["values"]) values.push_back(chart_number(v.get<double>()));
      points.push_back({{"group", g["group"]}, {"value", values}});
      summary.push_back({{"group", g["group"]}, {"mean", m["mean"]}, {"ci_low", m["ci95_low"]}, {"ci_high", m["ci95_high"]},
                         {"n", m["n"]}, {"p_value", m["p_value"]}});
    }
    strips += page.chart(strip_chart(name, points, summary, groups), "one dot per run; bar: 95% CI of the mean; tick: mean");
  }
  page.section("spread", "Per-seed values", strips);

  std::string curves;
  for (const auto& c : data["curves"])
    curves += page.chart(learning_curve_chart(c["metric"], c["means"], c["seeds"], groups));
  if (curves.empty()) {
    curves = "<p class=\"note\">No run recorded per-epoch metrics.</p>";
  } else {
    std::string sampled;
    const json runs_read = data.value("runs_read", json::object());
    for (const auto& [group, n] : runs_read.items()) {
      size_t of = 0;
      for (const auto& g : rep["groups"])
        if (g["group"] == group) of = g["n"].get<size_t>();
      sampled += (sampled.empty() ? "" : ", ") + group + ": " + std::to_string(n.get<size_t>()) + " of " + std::to_string(of);
    }
    curves = "<p class=\"note\">Line: mean over the runs of a variant; band: ± one standard deviation; dashes: "
             "split (train, val). Tick \"each seed\" for every run's own curve." +
             (sampled.empty() ? std::string()
                              : " Large variants are drawn from evenly spread runs (" + html_escape(sampled) +
                                    "; also for the config diff and the task panels); the tables and the per-seed "
                                    "values use every run.") +
             "</p>\n" + curves;
  }
  page.section("curves", "Learning curves", curves);

  const json& tasks = data["tasks"];
  if (!tasks.empty()) {
    std::string body_t;
    if (tasks.contains("confusion"))
      for (const auto& [split, rows] : tasks["confusion"].items())
        body_t += page.chart(confusion_chart("confusion matrix (" + split + ", mean over runs, share of each true class)", rows));
    for (const char* kind : {"f1", "recall"})
      if (tasks.contains(kind))
        for (const auto& [split, rows] : tasks[kind].items())
          body_t += page.chart(per_class_chart(std::string(kind) + " per class (" + split + ")", rows, groups));
    if (tasks.contains("pr"))
      for (const auto& [split, rows] : tasks["pr"].items())
        body_t += page.chart(pr_chart("object precision-recall over IoU thresholds (" + split + ")", rows, groups));
    if (tasks.contains("reliability"))
      for (const auto& [split, rows] : tasks["reliability"].items())
        body_t += page.chart(reliability_chart("reliability diagram (" + split + ", mean over runs)", rows, groups),
                             "dot area: the bin's share of the predictions; dashed: after temperature scaling");
    page.section("tasks", "Task panels", body_t);
  }

  const json& diff = data["config_diff"];
  std::string diff_html;
  if (diff["keys"].empty()) {
    diff_html = "<p class=\"note\">Every run read has the same configuration values.</p>";
  } else {
    std::vector<std::string> header = {"config key"};
    header.insert(header.end(), groups.begin(), groups.end());
    HtmlTable t(header, "config-diff");
    for (const auto& key : diff["keys"]) {
      std::vector<Cell> row = {Cell(key.get<std::string>())};
      for (const auto& g : groups) row.push_back(Cell(diff["groups"].value(g, json::object()).value(key.get<std::string>(), "-")));
      t.add_row(row);
    }
    diff_html = "<p class=\"note\">Config keys whose values differ between runs (a | b: the variant's runs differ).</p>\n" + t.html();
  }
  page.section("config", "What differs", diff_html);

  size_t outside = 0;
  std::map<std::string, int> by_status;
  for (const auto& r : data["runs"])
    if (!r["in_report"].get<bool>()) ++outside, ++by_status[r["status"].get<std::string>()];
  std::string note;
  if (outside) {
    note = std::to_string(outside) + " run" + (outside == 1 ? "" : "s") + " not in the statistics (";
    bool first = true;
    for (const auto& [s, n] : by_status) note += (first ? "" : ", ") + std::to_string(n) + " " + s, first = false;
    note += "); they are listed and marked below. --all-status includes runs that did not finish.";
  }
  const size_t unlisted = data.value("runs_unlisted", size_t{0});
  if (unlisted)
    note += std::string(note.empty() ? "" : " ") + std::to_string(unlisted) + " of the " +
            std::to_string(data.value("runs_in_statistics", size_t{0})) +
            " runs in the statistics are not listed below (evenly spread ones are); `xp runs --experiment " +
            rep["experiment"].get<std::string>() + "` lists every run.";
  // Distinct provenance over every run: were they all the same code, versions and device?
  HtmlTable prov({"runs", "git", "versions (xp / LibTorch / CUDA)", "device"}, "provenance");
  for (const auto& p : data.value("provenance", json::array())) {
    auto dash = [](const std::string& v) { return v.empty() ? std::string("-") : v; };
    std::string git = p.value("git_commit", "");
    if (git.size() > 12) git.resize(12);
    prov.add_row({Cell::number(p["runs"].get<double>(), std::to_string(p["runs"].get<size_t>())),
                  Cell(dash(git) + (p.value("git_dirty", false) ? " + uncommitted changes" : "")),
                  Cell(dash(p.value("xp", "")) + " / " + dash(p.value("torch", "")) + " / " + dash(p.value("cuda", ""))),
                  Cell(dash(p.value("device", "")))});
  }
  page.section("runs", "Runs and provenance",
               "<p class=\"note\">Every run counted by its provenance (commit, uncommitted changes, versions, "
               "device):</p>\n" + prov.html() +
                   (note.empty() ? std::string() : "<p class=\"note\">" + html_escape(note) + "</p>\n") +
                   provenance_table(data["runs"]));
  page.data("report", rep);
  return page.html();
}

}  // namespace xp::report
