// xp runs: list recorded runs, filtered (--where), sorted and formatted for people or programs.
#include <fnmatch.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>

#include "command.h"
#include "options.h"
#include "run_batch.h"
#include "run_json.h"
#include "run_registry.h"
#include "run_report.h"  // is_panel_metric
#include "where_expr.h"
#include "xp/base/suggest.h"
#include "xp/errors.h"
#include "text_table.h"

namespace xp::cli {
namespace {

constexpr size_t kMaxMetricColumns = 8;  // in the text table; csv and json carry all of them

// The default columns: what a reader compares runs by, the monitored metric's best value
// (best_<monitor>) and the test metrics. When the runs name the metrics of their epoch line
// (train.console), the test metrics are those (test_ap, test_cal_ap, ...), not every variant the
// metric plugins report. Runs without a summary (still running, or recorded by an older xp) fall
// back to the last value of each per-epoch metric.
std::vector<std::string> default_metric_columns(const std::vector<RunRecord>& runs, const std::string& console) {
  std::vector<std::string> stems;  // "ap" from train.console = ["ap", "iou"]
  for (size_t q = console.find('"'); q != std::string::npos; q = console.find('"', q + 1)) {
    const size_t end = console.find('"', q + 1);
    if (end == std::string::npos) break;
    stems.push_back(console.substr(q + 1, end - q - 1));
    q = end;
  }
  std::set<std::string> best, test, finals;
  for (const auto& r : runs)
    for (const auto& n : r.summary_order) {
      if (n.rfind("best_", 0) == 0 && n != "best_epoch") best.insert(n);
      if (n.rfind("test_", 0) != 0 || n == "test_epoch" || registry::is_panel_metric(n)) continue;
      if (stems.empty()) test.insert(n);
      for (const auto& stem : stems)
        if (n == "test_" + stem || n == "test_cal_" + stem) test.insert(n);
    }
  std::vector<std::string> names(best.begin(), best.end());
  for (const auto& stem : stems)  // in the order of the epoch line
    for (const auto& n : {"test_" + stem, "test_cal_" + stem})
      if (test.count(n)) names.push_back(n);
  if (stems.empty()) names.insert(names.end(), test.begin(), test.end());
  if (!names.empty()) return names;
  for (const auto& r : runs)
    for (const auto& [n, v] : r.finals) finals.insert(n);
  return {finals.begin(), finals.end()};
}

// --columns "test_iou,val_*": names and globs over the metrics the runs have, in the order given.
std::vector<std::string> chosen_columns(const std::string& spec, const std::vector<RunRecord>& runs,
                                        const std::vector<std::string>& known) {
  std::set<std::string> have(known.begin(), known.end());
  for (const auto& r : runs)
    for (const auto& [n, v] : r.metrics()) have.insert(n);
  const std::vector<std::string> all(have.begin(), have.end());
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    if (comma == std::string::npos) comma = spec.size();
    std::string name = spec.substr(start, comma - start);
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
    if (name.rfind("metrics.", 0) == 0) name = name.substr(8);
    start = comma + 1;
    if (name.empty()) continue;
    if (name.find_first_of("*?[") != std::string::npos) {
      size_t before = out.size();
      for (const auto& n : all)
        if (::fnmatch(name.c_str(), n.c_str(), 0) == 0 && std::find(out.begin(), out.end(), n) == out.end())
          out.push_back(n);
      if (out.size() == before)
        throw ConfigError("--columns: no metric matches '" + name + "'" + (all.empty() ? "" : did_you_mean(name, all)));
      continue;
    }
    if (!have.count(name))
      throw ConfigError("--columns: no run has a metric '" + name + "'" +
                        (all.empty() ? std::string(" (the runs have no metrics yet)") : did_you_mean(name, all)));
    out.push_back(name);
  }
  return out;
}

// Batches of `xp run --launcher slurm` that are still going or that the listed runs belong to:
// their planned runs by state (queued ones have no run row yet) and their Slurm jobs.
void print_batches(const std::filesystem::path& registry, const std::string& experiment,
                   const std::vector<RunRecord>& found, std::ostream& out) {
  std::set<std::string> listed;
  for (const auto& r : found)
    if (auto it = r.info.tags.find("xp_batch"); it != r.info.tags.end()) listed.insert(it->second);
  for (const auto& b : sweeps::run_batches(registry, experiment)) {
    if (!b.counts.active() && !listed.count(b.batch.id)) continue;
    out << "batch " << b.batch.id << " (" << b.batch.experiment;
    for (const auto& j : b.jobs) out << ", " << j.launcher << " job " << j.job_id;
    out << "): " << sweeps::describe(b.counts) << "\n";
  }
}

int runs(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string experiment, where, sort = "-start", format = "table", registry_path, columns;
  int64_t limit = 0;
  double stale_after = 120;
  desc.add_options()("experiment,e", po::value(&experiment), "only runs of this experiment")(
      "where,w", po::value(&where),
      "filter, e.g. \"variant = 'focal' and params.loss.gamma >= 2 and metrics.val_iou > 0.5\"")(
      "status", po::value<std::vector<std::string>>()->composing(), "only runs with this status (repeatable)")(
      "sort,s", po::value(&sort), "field to sort by, '-' prefix for descending (default -start: newest first)")(
      "limit,n", po::value(&limit), "at most N runs")("format,f", po::value(&format), "table, csv or json")(
      "columns,c", po::value(&columns),
      "metric columns, comma-separated names or globs, e.g. test_iou,val_ap or 'test_*' (default: the monitored "
      "metric's best value and the test metrics)")(
      "registry", po::value(&registry_path), "registry file (default $XP_REGISTRY or ./xp-runs/registry.db)")(
      "stale-after", po::value(&stale_after),
      "mark running runs crashed after this many seconds without heartbeat (default 120)");
  po::positional_options_description pos;
  po::variables_map vm;
  if (!parse_options("xp runs [--experiment NAME] [--where EXPR] [--columns M1,M2] [--sort KEY] [--limit N] "
                     "[--format table|csv|json]",
                     desc, pos, args, vm))
    return kOk;
  if (format != "table" && format != "csv" && format != "json")
    throw UsageError("--format must be table, csv or json, not '" + format + "'" +
                     did_you_mean(format, {"table", "csv", "json"}));
  if (limit < 0) throw UsageError("--limit must be >= 0");
  const auto location = existing_registry_path(registry_path);  // not registry.path(): that hides a password
  RunRegistry registry(location);
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
  bool csv = format == "csv";
  std::vector<std::string> metrics;
  std::string console;  // the newest run's epoch-line metrics pick the default test columns
  if (!found.empty())
    if (auto newest = registry.get_run(found.front().id)) {
      auto it = newest->info.params.find("train.console");
      if (it != newest->info.params.end()) console = it->second;
    }
  if (!columns.empty()) {
    metrics = chosen_columns(columns, found, registry.known_names(experiment).metrics);
  } else if (csv) {
    // csv carries every metric, the default columns first.
    metrics = default_metric_columns(found, console);
    std::set<std::string> all;
    for (const auto& r : found)
      for (const auto& [n, v] : r.metrics()) all.insert(n);
    for (const auto& n : all)
      if (std::find(metrics.begin(), metrics.end(), n) == metrics.end()) metrics.push_back(n);
  } else {
    metrics = default_metric_columns(found, console);
  }
  size_t shown = csv || !columns.empty() ? metrics.size() : std::min(metrics.size(), kMaxMetricColumns);
  // Runs started under Slurm (xp run --launcher slurm, sweep workers, any sbatch job) show where they ran.
  auto slurm_of = [](const RunRecord& r) -> std::string {
    auto job = r.info.tags.find("slurm_job");
    if (job == r.info.tags.end()) return "";
    auto task = r.info.tags.find("slurm_array_task");
    return job->second + (task == r.info.tags.end() ? "" : "_" + task->second);
  };
  const bool slurm = !csv && std::any_of(found.begin(), found.end(), [&](const auto& r) { return !slurm_of(r).empty(); });
  std::vector<std::string> header = {"id", "experiment", "variant", "seed", "status", "start", "duration", "git"};
  if (slurm) header.push_back("slurm");
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
      if (slurm) row.push_back(slurm_of(r).empty() ? "-" : slurm_of(r));
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
    print_batches(location, experiment, found, std::cout);
    return kOk;
  }
  std::cout << table.text();
  std::cout << found.size() << " run" << (found.size() == 1 ? "" : "s");
  if (shown < metrics.size()) std::cout << "; " << metrics.size() - shown << " more metrics in --format csv/json";
  if (columns.empty()) std::cout << "; other metrics: --columns NAME,...";
  std::cout << "\n";
  print_batches(location, experiment, found, std::cout);
  return kOk;
}

}  // namespace

XP_CLI_COMMAND("runs", "list recorded runs (filter with --where, sort, csv/json)", runs);

}  // namespace xp::cli
