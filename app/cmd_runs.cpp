// xp runs: list recorded runs, filtered (--where), sorted and formatted for people or programs.
#include <filesystem>
#include <iostream>
#include <set>

#include "command.h"
#include "options.h"
#include "run_json.h"
#include "run_registry.h"
#include "xp/base/suggest.h"
#include "text_table.h"

namespace xp::cli {
namespace {

constexpr size_t kMaxMetricColumns = 8;  // in the text table; csv and json carry all of them

// Summary metrics when any run has them (what the engine declared as results), else the last
// value of each per-epoch metric, in first-seen order.
std::vector<std::string> metric_columns(const std::vector<RunRecord>& runs) {
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const auto& r : runs)
    for (const auto& n : r.summary_order)
      if (seen.insert(n).second) names.push_back(n);
  if (!names.empty()) return names;
  for (const auto& r : runs)
    for (const auto& [n, v] : r.finals)
      if (seen.insert(n).second) names.push_back(n);
  return names;
}

int runs(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string experiment, where, sort = "-start", format = "table", registry_path;
  int64_t limit = 0;
  double stale_after = 120;
  desc.add_options()("experiment,e", po::value(&experiment), "only runs of this experiment")(
      "where,w", po::value(&where),
      "filter, e.g. \"variant = 'focal' and params.loss.gamma >= 2 and metrics.val_iou > 0.5\"")(
      "status", po::value<std::vector<std::string>>()->composing(), "only runs with this status (repeatable)")(
      "sort,s", po::value(&sort), "field to sort by, '-' prefix for descending (default -start: newest first)")(
      "limit,n", po::value(&limit), "at most N runs")("format,f", po::value(&format), "table, csv or json")(
      "registry", po::value(&registry_path), "registry file (default $XP_REGISTRY or ./xp-runs/registry.db)")(
      "stale-after", po::value(&stale_after),
      "mark running runs crashed after this many seconds without heartbeat (default 120)");
  po::positional_options_description pos;
  po::variables_map vm;
  if (!parse_options("xp runs [--experiment NAME] [--where EXPR] [--sort KEY] [--limit N] [--format table|csv|json]",
                     desc, pos, args, vm))
    return kOk;
  if (format != "table" && format != "csv" && format != "json")
    throw UsageError("--format must be table, csv or json, not '" + format + "'" +
                     did_you_mean(format, {"table", "csv", "json"}));
  if (limit < 0) throw UsageError("--limit must be >= 0");
  RunRegistry registry(existing_registry_path(registry_path));
  registry.mark_stale_runs_crashed(stale_after);
  RunQuery query;
  query.experiment = experiment;
  query.where = where;
  query.sort = sort;
  query.limit = limit;
  if (vm.count("status")) {
    query.statuses = vm["status"].as<std::vector<std::string>>();
    for (const auto& s : query.statuses)
      if (!parse_run_status(s))
        throw UsageError("unknown status '" + s + "'" + did_you_mean(s, run_status_names()));
  }
  if (!experiment.empty()) {
    auto all = registry.experiments();
    if (std::find(all.begin(), all.end(), experiment) == all.end())
      std::cerr << "note: no runs of experiment '" << experiment << "'" << did_you_mean(experiment, all) << "\n";
  }
  auto found = registry.list_runs(query);

  if (format == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : found) out.push_back(registry::run_to_json(r));
    std::cout << out.dump(2) << "\n";
    return kOk;
  }
  auto metrics = metric_columns(found);
  bool csv = format == "csv";
  size_t shown = csv ? metrics.size() : std::min(metrics.size(), kMaxMetricColumns);
  std::vector<std::string> header = {"id", "experiment", "variant", "seed", "status", "start", "duration", "git"};
  if (csv) header = {"id", "experiment", "variant", "seed", "status", "start", "end", "duration_s", "git_commit",
                     "git_dirty", "config_hash"};
  for (size_t i = 0; i < shown; ++i) header.push_back(csv ? "metrics." + metrics[i] : metrics[i]);
  registry::TextTable table(header);
  for (const auto& r : found) {
    std::vector<std::string> row;
    if (csv) {
      row = {r.id, r.info.experiment, r.info.variant, std::to_string(r.info.seed), run_status_name(r.status),
             registry::format_iso_utc(r.start_time), registry::format_iso_utc(r.end_time),
             r.duration ? registry::format_value(*r.duration, 10) : "", r.info.git_commit,
             r.info.git_dirty ? "1" : "0", r.info.config_hash};
    } else {
      std::string git = r.info.git_commit.substr(0, 8) + (r.info.git_dirty ? "*" : "");
      double now = unix_now();
      row = {r.id, r.info.experiment, r.info.variant.empty() ? "-" : r.info.variant, std::to_string(r.info.seed),
             run_status_name(r.status), registry::format_time(r.start_time),
             registry::format_duration(r.status == RunStatus::Running ? std::optional<double>(now - r.start_time)
                                                                       : r.duration),
             git.empty() ? "-" : git};
    }
    auto values = r.metrics();
    for (size_t i = 0; i < shown; ++i) {
      auto it = values.find(metrics[i]);
      row.push_back(it == values.end() ? (csv ? "" : "-") : registry::format_value(it->second, csv ? 10 : 4));
    }
    table.add_row(row);
  }
  if (csv) {
    std::cout << table.csv();
    return kOk;
  }
  if (found.empty()) {
    std::cout << "no runs match\n";
    return kOk;
  }
  std::cout << table.text();
  std::cout << found.size() << " run" << (found.size() == 1 ? "" : "s");
  if (shown < metrics.size()) std::cout << "; " << metrics.size() - shown << " more metrics in --format csv/json";
  std::cout << "\n";
  return kOk;
}

}  // namespace

XP_CLI_COMMAND("runs", "list recorded runs (filter with --where, sort, csv/json)", runs);

}  // namespace xp::cli
