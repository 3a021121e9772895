// xp report EXPERIMENT: compares variants (or config values) over seeds with mean ± std, 95%
// intervals and Welch's t-test against a baseline.
// xp report --sweep ID: a sweep's trials ranked, per-parameter summary and best configuration
// (the same report as `xp sweep report ID`, from the same function).
// --html FILE writes either as one self-contained page (report/study_page.h, report/sweep_page.h).
#include <cmath>
#include <iostream>

#include "command.h"
#include "html_page.h"
#include "options.h"
#include "run_json.h"
#include "run_registry.h"
#include "run_report.h"
#include "xp/base/suggest.h"
#include "study_page.h"
#include "sweep_report_cli.h"
#include "text_table.h"

namespace xp::cli {
namespace {

using registry::format_value;

registry::TextTable metric_table(const registry::Report& r, size_t mi) {
  registry::TextTable t({"group", "n", "mean ± std", "min", "max", "95% CI", "p vs " + r.baseline});
  for (const auto& g : r.groups) {
    const auto& m = g.metrics[mi];
    std::string ci = std::isnan(m.ci95) ? "-" : "[" + format_value(m.mean - m.ci95) + ", " + format_value(m.mean + m.ci95) + "]";
    std::string p = g.label == r.baseline ? "(baseline)"
                    : m.vs_baseline       ? (m.vs_baseline->p_value < 1e-4 ? std::string("<0.0001")
                                                                          : format_value(m.vs_baseline->p_value, 3)) +
                                          (m.vs_baseline->p_value < 0.05 ? " *" : "")
                                          : "-";
    std::string mean = m.values.empty() ? "-" : format_value(m.mean) + (std::isnan(m.std) ? "" : " ± " + format_value(m.std, 2));
    t.add_row({g.label + (g.label == r.best && mi == 0 ? "  (best)" : ""), std::to_string(m.values.size()), mean,
               m.values.empty() ? "-" : format_value(m.min), m.values.empty() ? "-" : format_value(m.max), ci, p});
  }
  return t;
}

// Why this group is the baseline, when the user did not name it.
std::string baseline_why(const std::string& reason) {
  if (reason == "[experiment] baseline") return " (the experiment's baseline)";
  if (reason == "declared first") return " (declared first in the experiment file)";
  return "";
}

int report(const std::vector<std::string>& args) {
  po::options_description desc("options");
  registry::ReportOptions opt;
  std::string mode, format = "table", registry_path, html;
  std::vector<std::string> group_by;
  SweepReportRequest sweep;
  desc.add_options()("experiment", po::value(&opt.experiment), "experiment name")(
      "metric,m", po::value<std::vector<std::string>>(&opt.metrics)->composing(),
      "metric to compare (repeatable; default: [experiment] metric, the checkpoint monitor and the test metrics)")(
      "mode", po::value(&mode), "max or min: which direction is better (default: min for losses/errors, else max)")(
      "group-by,g", po::value<std::vector<std::string>>(&group_by)->composing(),
      "variant (default) or a config key such as loss.gamma; repeat to group by several")(
      "baseline,b", po::value(&opt.baseline), "group the others are tested against (default: [experiment] baseline, else the variant declared first)")(
      "summary", po::value(&opt.summary), "per-run value: best epoch (default) or final epoch")(
      "where,w", po::value(&opt.where), "only runs matching this filter (xp runs --where syntax)")(
      "all-status", "include runs that did not finish (running, failed, crashed, ...)")(
      "format,f", po::value(&format), "table, markdown, csv or json")(
      "html", po::value(&html), "also write the report as one self-contained HTML page (charts, provenance) to FILE")(
      "registry", po::value(&registry_path), "registry file (default $XP_REGISTRY or ./xp-runs/registry.db)")(
      "sweep", po::value(&sweep.id), "report on this sweep instead: trials ranked, per-parameter table, best config")(
      "top", po::value(&sweep.top), "with --sweep: show only the N best trials")(
      "best-config", po::value(&sweep.best_config), "with --sweep: also write the best configuration to this file");
  po::positional_options_description pos;
  pos.add("experiment", 1);
  po::variables_map vm;
  if (!parse_options("xp report EXPERIMENT [--metric M] [--mode max|min] [--group-by variant|CONFIG.KEY ...] "
                     "[--baseline VARIANT] [--summary best|final] [--format table|markdown|csv|json] [--html FILE]\n"
                     "       xp report --sweep SWEEP_ID [--top N] [--best-config FILE] [--html FILE]",
                     desc, pos, args, vm))
    return kOk;
  if (!sweep.id.empty()) {
    for (const std::string o : {"experiment", "metric", "mode", "group-by", "baseline", "summary", "where", "all-status", "format"})
      if (vm.count(o))
        throw UsageError((o == "experiment" ? std::string("an experiment name") : "--" + o) +
                         " does not apply to --sweep, which takes --top, --best-config, --html and --registry");
    sweep.registry = registry_path;
    sweep.html = html;
    return report_sweep(sweep, std::cout);
  }
  if (vm.count("top") || vm.count("best-config")) throw UsageError("--top and --best-config need --sweep SWEEP_ID");
  if (opt.experiment.empty()) throw UsageError("name an experiment (or --sweep SWEEP_ID); see xp report --help");
  if (!mode.empty()) {
    if (mode != "max" && mode != "min") throw UsageError("--mode must be max or min, not '" + mode + "'");
    opt.maximize = mode == "max";
  }
  if (opt.summary != "best" && opt.summary != "final")
    throw UsageError("--summary must be best or final, not '" + opt.summary + "'" +
                     did_you_mean(opt.summary, {"best", "final"}));
  if (format != "table" && format != "markdown" && format != "csv" && format != "json")
    throw UsageError("--format must be table, markdown, csv or json, not '" + format + "'" +
                     did_you_mean(format, {"table", "markdown", "csv", "json"}));
  if (!group_by.empty()) opt.group_by = group_by;
  opt.all_status = vm.count("all-status") > 0;

  RunRegistry registry(existing_registry_path(registry_path));
  registry.mark_stale_runs_crashed();
  auto r = registry::build_report(registry, opt);
  if (!html.empty()) {
    report::write_page(html, report::render_study_page(report::study_page_data(registry, r, opt)));
    std::cerr << "wrote " << html << "\n";
  }

  if (format == "json") {
    std::cout << registry::report_to_json(r).dump(2) << "\n";
    return kOk;
  }
  if (format == "csv") {
    registry::TextTable t({"group", "metric", "n", "mean", "std", "min", "max", "ci95", "p_value"});
    for (const auto& g : r.groups)
      for (size_t mi = 0; mi < r.metrics.size(); ++mi) {
        const auto& m = g.metrics[mi];
        auto num = [](double v) { return std::isfinite(v) ? format_value(v, 10) : std::string(); };
        t.add_row({g.label, r.metrics[mi], std::to_string(m.values.size()), num(m.mean), num(m.std), num(m.min),
                   num(m.max), num(m.ci95), m.vs_baseline ? num(m.vs_baseline->p_value) : ""});
      }
    std::cout << t.csv();
    return kOk;
  }
  bool md = format == "markdown";
  std::string status = opt.all_status ? "all runs" : "finished runs";
  std::cout << (md ? "## " : "") << "experiment " << r.experiment << ": " << status << ", "
            << (r.summary == "best" ? "best epoch" : "final epoch") << " per run, baseline '" << r.baseline << "'"
            << baseline_why(r.baseline_reason) << "\n";
  for (size_t mi = 0; mi < r.metrics.size(); ++mi) {
    std::cout << "\n" << (md ? "### " : "") << r.metrics[mi] << " (" << (r.maximize[mi] ? "higher" : "lower")
              << " is better)\n" << (md ? "\n" : "");
    auto t = metric_table(r, mi);
    std::cout << (md ? t.markdown() : t.text());
  }
  std::cout << "\n" << (md ? "**" : "") << r.conclusion << (md ? "**" : "") << "\n";
  if (!md) std::cout << "(95% CI: Student t interval of the mean; p: two-sided Welch t-test; * p < 0.05)\n";
  return kOk;
}

}  // namespace

XP_CLI_COMMAND("report", "compare an experiment's variants over seeds (mean ± std, CI, Welch t-test)", report);

}  // namespace xp::cli
