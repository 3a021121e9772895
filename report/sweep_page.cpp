#include "sweep_page.h"

#include <algorithm>
#include <cmath>

#include "html_page.h"
#include "sweep_report.h"
#include "text_table.h"
#include "vega_charts.h"

namespace xp::report {

using nlohmann::json;
using namespace xp::sweeps;

namespace {

json param_json(const Value& v) { return v.is_number() ? json(v.as_float()) : json(v.to_string()); }

std::optional<double> shown_value(const TrialRecord& t) {
  if (t.value) return t.value;
  if (t.state == TrialState::Pruned && !t.intermediate.empty()) return t.intermediate.rbegin()->second;
  return std::nullopt;
}

// Position of a value on its parallel-coordinates axis, 0..1.
std::optional<double> axis_position(const Dimension& d, const Value& v) {
  if (d.is_categorical()) {
    for (size_t i = 0; i < d.values.size(); ++i)
      if (d.values[i].to_string() == v.to_string()) return d.values.size() < 2 ? 0.5 : double(i) / double(d.values.size() - 1);
    return std::nullopt;
  }
  if (!v.is_number()) return std::nullopt;
  double x = v.as_float(), lo = d.low, hi = d.high;
  if (d.is_log() && x > 0 && lo > 0 && hi > 0) x = std::log(x), lo = std::log(lo), hi = std::log(hi);
  return hi > lo ? std::clamp((x - lo) / (hi - lo), 0.0, 1.0) : 0.5;
}

}  // namespace

json sweep_trial_rows(const SweepRecord& sweep, const SweepConfig& config, const std::vector<TrialRecord>& trials) {
  std::vector<const TrialRecord*> order;
  for (const auto& t : trials) order.push_back(&t);
  auto when = [](const TrialRecord* t) { return t->finished_at > 0 ? t->finished_at : t->started_at; };
  std::stable_sort(order.begin(), order.end(), [&](auto* a, auto* b) { return when(a) < when(b); });
  json rows = json::array();
  std::optional<double> best;
  for (const auto* t : order) {
    if (t->state == TrialState::Complete && t->value && (!best || better(sweep.direction, *t->value, *best))) best = t->value;
    auto shown = shown_value(*t);
    std::string note = t->message;
    if (t->pruned_epoch) note = "pruned at epoch " + std::to_string(*t->pruned_epoch);
    json row = {{"trial", t->number},
                {"state", trial_state_name(t->state)},
                {"value", t->value ? json(*t->value) : json(nullptr)},
                {"shown", shown ? json(*shown) : json(nullptr)},
                {"best_so_far", best ? json(*best) : json(nullptr)},
                {"finished", when(t) * 1000.0},
                {"note", note}};
    for (size_t k = 0; k < config.space.dimensions().size(); ++k) {
      auto it = t->params.find(config.space.dimensions()[k].key);
      row["p" + std::to_string(k)] = it == t->params.end() ? json(nullptr) : param_json(it->second);
    }
    rows.push_back(row);
  }
  return rows;
}

std::string sweep_page_html(const SweepRecord& sweep, const SweepConfig& config, const std::vector<TrialRecord>& trials) {
  HtmlPage page("xp sweep " + sweep.id + " (" + sweep_state_name(sweep.state) + ")",
                sweep.experiment + ", " + sweep.method + ", " + direction_name(sweep.direction) + " " + sweep.metric + "; " +
                    state_counts(trials));
  const auto rows = sweep_trial_rows(sweep, config, trials);
  const auto& dims = config.space.dimensions();

  std::string best_html;
  auto best = best_trial(trials, sweep.direction);
  if (best) {
    best_html = "<p class=\"conclusion\">best " + html_escape(sweep.metric) + " = " +
                html_escape(registry::format_value(*best->value, 6)) + " (trial " + std::to_string(best->number) + ")</p>";
    best_html += "<pre id=\"best-config\">" + html_escape(best_config_toml(config, *best, sweep.id)) + "</pre>";
    best_html += "<p class=\"note\">or: <code>" + html_escape(trial_command_line(config, *best)) + "</code></p>";
  } else {
    best_html = "<p class=\"note\">No trial completed yet.</p>";
  }
  page.section("best", "Best configuration", best_html);

  std::string charts = page.chart(sweep_history_chart(sweep.metric, rows),
                                  "line: best completed value so far; pruned trials at their last watched value");
  for (size_t k = 0; k < dims.size(); ++k)
    charts += page.chart(
        sweep_param_chart(sweep.metric, dims[k].key, "p" + std::to_string(k), dims[k].is_categorical(), dims[k].is_log(), rows));
  // Parallel coordinates: every parameter, then the objective.
  std::vector<std::string> axes;
  for (const auto& d : dims) axes.push_back(d.key);
  axes.push_back(sweep.metric);
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& t : trials)
    if (auto v = shown_value(t)) lo = std::min(lo, *v), hi = std::max(hi, *v);
  json lines = json::array();
  for (const auto& t : trials) {
    auto v = shown_value(t);
    if (!v) continue;
    json objective = t.state == TrialState::Complete ? json(*v) : json(nullptr);
    for (const auto& d : dims) {
      auto it = t.params.find(d.key);
      if (it == t.params.end()) continue;
      if (auto pos = axis_position(d, it->second))
        lines.push_back({{"trial", t.number}, {"axis", d.key}, {"position", *pos}, {"label", it->second.to_string()},
                         {"objective", objective}, {"state", trial_state_name(t.state)}});
    }
    lines.push_back({{"trial", t.number}, {"axis", sweep.metric}, {"position", hi > lo ? (*v - lo) / (hi - lo) : 0.5},
                     {"label", registry::format_value(*v, 5)}, {"objective", objective}, {"state", trial_state_name(t.state)}});
  }
  if (!lines.empty() && !dims.empty()) charts += page.chart(parallel_chart(sweep.metric, lines, axes));
  page.section("charts", "Trials", charts);

  std::vector<std::string> header = {"rank", "trial", "state", sweep.metric, "epochs", "runs", "note"};
  for (const auto& d : dims) header.push_back(d.key);
  HtmlTable t(header, "trials");
  int rank = 0;
  for (const auto& tr : rank_trials(trials, sweep.direction)) {
    const bool complete = tr.state == TrialState::Complete && tr.value;
    std::string state = trial_state_name(tr.state);
    if (tr.pruned_epoch) state += " @" + std::to_string(*tr.pruned_epoch);
    std::string runs;
    for (const auto& id : tr.run_ids) runs += (runs.empty() ? "" : " ") + id;
    if (complete) ++rank;
    std::vector<Cell> row = {complete ? Cell::number(rank, std::to_string(rank)) : Cell("-"),
                             Cell::number(double(tr.number), std::to_string(tr.number)), Cell(state),
                             tr.value ? Cell::number(*tr.value, registry::format_value(*tr.value, 6)) : Cell("-"),
                             tr.intermediate.empty() ? Cell("-")
                                                     : Cell::number(double(tr.intermediate.rbegin()->first),
                                                                    std::to_string(tr.intermediate.rbegin()->first)),
                             Cell(runs), Cell(tr.message)};
    for (const auto& d : dims) {
      auto it = tr.params.find(d.key);
      if (it == tr.params.end()) row.push_back(Cell("-"));
      else if (it->second.is_number()) row.push_back(Cell::number(it->second.as_float(), it->second.to_string()));
      else row.push_back(Cell(it->second.to_string()));
    }
    std::string css = "status-" + std::string(tr.state == TrialState::Complete ? "finished" : trial_state_name(tr.state));
    if (best && tr.number == best->number) css = "best";
    t.add_row(row, css);
  }
  page.section("table", "Trials ranked", t.html());
  page.section("config", "Sweep file", "<pre>" + html_escape(sweep.config_text) + "</pre>");
  page.data("trials", rows);
  return page.html();
}

}  // namespace xp::report
