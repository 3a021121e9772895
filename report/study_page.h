#pragma once
// `xp report EXPERIMENT --html FILE`: the study page. Its numbers come from registry::build_report,
// the code path of the text and JSON reports; the page adds what a table cannot show: learning
// curves (mean ± std over seeds, each seed on demand), the per-seed spread behind each p-value,
// what differs between the variants, every run's provenance (failed and crashed runs marked, not
// dropped) and the task panels of task_panels.h.
#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "run_registry.h"
#include "run_report.h"

namespace xp::report {

struct StudyPageLimits {
  size_t runs_read = 50;         // runs per variant read in full at most (history for the curves, config
                                 // for the diff, summary for the task panels), evenly spread over its
                                 // runs; the tables and strip plots use every run
  size_t runs_listed = 1000;     // runs in the provenance table at most, after every run not in the
                                 // statistics (the distinct-provenance table counts every run)
  size_t curve_points = 200;     // points per curve at most (longer curves are evenly downsampled)
  size_t seed_lines = 20;        // runs per variant drawn as thin "each seed" lines at most ...
  size_t seed_lines_total = 50;  // ... and in all (split evenly over the variants, one at least)
  size_t seed_points = 100;      // points per "each seed" line at most
  size_t curve_charts = 24;      // learning-curve charts at most (report metrics first)
};

// The page's data model (the charts and tables are drawn from it):
//   report       registry::report_to_json(report), exactly what `--format json` prints
//   runs         the runs of the experiment that --where selects, any status (every run not in the
//                statistics first, then up to runs_listed): id, group, seed, status, message,
//                in_report, provenance fields; runs_total, runs_in_statistics, runs_unlisted: counts
//   provenance   [{git_commit, git_dirty, xp, torch, cuda, device, runs}]: every run counted
//   runs_read    {group: n} for the groups whose curves, diff and panels read n of their runs
//   curves       [{metric, means: [{group, split, epoch: [], step: [], mean: [], std: [], lo: [], hi: [],
//                n: []}], seeds: [{group, split, run, epoch: [], step: [], value: []}]}] (columns)
//   config_diff  {keys: [...], groups: {group: {key: "value" | "a | b"}}}: keys whose values differ
//   tasks        {confusion|f1|recall|pr: {split: rows}}
// Only `report` is embedded in the page as JSON (id "xp-data-report"); the rest is in the charts.
nlohmann::json study_page_data(RunRegistry& registry, const registry::Report& report,
                               const registry::ReportOptions& options, const StudyPageLimits& limits = {});
std::string render_study_page(const nlohmann::json& data);

}  // namespace xp::report
