// `xp report` grouping and selection: which runs count, best/final values, baseline and verdict.
#include <doctest/doctest.h>

#include "run_json.h"
#include "run_report.h"
#include "pg_test_server.h"
#include "test_registry_support.h"
#include "xp/errors.h"

using namespace xp;

namespace {

// val_acc per epoch ends at `final`; its best epoch is `final + 0.05` at epoch 2 of 3.
std::string run_with(RunRegistry& reg, const std::string& variant, int64_t seed, double final,
                     std::map<std::string, std::string> params = {}, RunStatus status = RunStatus::Finished) {
  std::string id = reg.begin(registry_test::run_info("exp", variant, seed, std::move(params)));
  reg.log_metrics(id, 1, 10, {{"val_acc", final - 0.2}, {"val_loss", 2.0}});
  reg.log_metrics(id, 2, 20, {{"val_acc", final + 0.05}, {"val_loss", 0.5 + final}});
  reg.log_metrics(id, 3, 30, {{"val_acc", final}, {"val_loss", 0.7 + final}});
  reg.set_summary(id, {{"test_acc", final - 0.01}});
  reg.finish(id, status);
  return id;
}

const registry::ReportGroup& group(const registry::Report& r, const std::string& label) {
  for (const auto& g : r.groups)
    if (g.label == label) return g;
  FAIL("no group " << label);
  throw;
}

}  // namespace

TEST_CASE("report: groups by variant with hand-checked statistics and a Welch verdict") {
  registry_test::ScratchDir dir;
  XP_EACH_REGISTRY_BACKEND(location, dir.path / "registry.db");
  RunRegistry reg(location);
  // The scipy-checked pair of test_report_statistics.cpp, as final val_acc of 5 seeds each.
  std::vector<double> focal = {0.912, 0.905, 0.918, 0.909, 0.915}, ce = {0.897, 0.901, 0.893, 0.899, 0.902};
  for (int s = 0; s < 5; ++s) {
    run_with(reg, "focal", s, focal[s], {{"loss.gamma", s < 3 ? "2.0" : "3.0"}});
    run_with(reg, "ce", s, ce[s], {{"loss.gamma", "0"}});
  }
  run_with(reg, "focal", 9, 0.1, {}, RunStatus::Failed);  // does not count by default

  registry::ReportOptions opt;
  opt.experiment = "exp";
  opt.metrics = {"val_acc"};
  opt.summary = "final";
  opt.baseline = "ce";
  auto r = registry::build_report(reg, opt);
  REQUIRE(r.groups.size() == 2);
  const auto& f = group(r, "focal").metrics[0];
  CHECK(f.values.size() == 5);
  CHECK(f.mean == doctest::Approx(0.9118));
  CHECK(f.std == doctest::Approx(0.005069516742254635).epsilon(1e-9));
  CHECK(f.ci95 == doctest::Approx(0.006294636427148823).epsilon(1e-9));
  CHECK(f.min == doctest::Approx(0.905));
  CHECK(f.max == doctest::Approx(0.918));
  REQUIRE(f.vs_baseline);
  CHECK(f.vs_baseline->p_value == doctest::Approx(0.0017625834130635923).epsilon(1e-6));
  CHECK_FALSE(group(r, "ce").metrics[0].vs_baseline);
  CHECK(r.best == "focal");
  CHECK(r.significant);
  CHECK(r.conclusion.find("significant at p < 0.05") != std::string::npos);

  // Best epoch instead of final: every value is 0.05 higher.
  opt.summary = "best";
  auto best = registry::build_report(reg, opt);
  CHECK(group(best, "focal").metrics[0].mean == doctest::Approx(0.9618));

  // Losses minimize by default; the best epoch of val_loss is epoch 2.
  opt.metrics = {"val_loss"};
  auto loss = registry::build_report(reg, opt);
  CHECK_FALSE(loss.maximize[0]);
  CHECK(group(loss, "ce").metrics[0].mean == doctest::Approx(0.5 + 0.8984));
  CHECK(loss.best == "ce");

  // A summary-only metric, the default metric, and failed runs with --all-status.
  opt.metrics = {};
  opt.all_status = true;
  auto all = registry::build_report(reg, opt);
  CHECK(all.metrics[0] == "test_acc");
  CHECK(group(all, "focal").metrics[0].values.size() == 6);

  // Group by a config key; JSON carries the documented fields.
  opt.all_status = false;
  opt.metrics = {"val_acc"};
  opt.group_by = {"loss.gamma"};
  opt.baseline = "";
  auto by_gamma = registry::build_report(reg, opt);
  REQUIRE(by_gamma.groups.size() == 3);
  CHECK(by_gamma.groups[0].label == "0");  // numeric order: 0, 2.0, 3.0
  CHECK(by_gamma.groups[1].label == "2.0");
  CHECK(by_gamma.baseline == "0");  // no group is called baseline: the first one
  CHECK(by_gamma.groups[1].run_ids.size() == 3);
  auto j = registry::report_to_json(by_gamma);
  CHECK(j["groups"][1]["group"] == "2.0");
  CHECK(j["groups"][1]["n"] == 3);
  for (const char* key : {"mean", "std", "min", "max", "ci95"}) CHECK(j["groups"][1]["metrics"]["val_acc"].contains(key));
}

TEST_CASE("report: unknown names fail with suggestions") {
  registry_test::ScratchDir dir;
  XP_EACH_REGISTRY_BACKEND(location, dir.path / "registry.db");
  RunRegistry reg(location);
  run_with(reg, "ce", 0, 0.9, {{"loss.gamma", "1"}});
  registry::ReportOptions opt;
  opt.experiment = "exq";
  CHECK_THROWS_WITH_AS(registry::build_report(reg, opt), doctest::Contains("did you mean 'exp'"), ConfigError);
  opt.experiment = "exp";
  opt.metrics = {"val_ac"};
  CHECK_THROWS_WITH_AS(registry::build_report(reg, opt), doctest::Contains("did you mean 'val_acc'"), ConfigError);
  opt.metrics = {"val_acc"};
  opt.group_by = {"loss.gama"};
  CHECK_THROWS_WITH_AS(registry::build_report(reg, opt), doctest::Contains("did you mean 'loss.gamma'"), ConfigError);
  opt.group_by = {"variant"};
  opt.baseline = "cee";
  CHECK_THROWS_WITH_AS(registry::build_report(reg, opt), doctest::Contains("did you mean 'ce'"), ConfigError);
  opt.baseline = "";
  auto single = registry::build_report(reg, opt);
  CHECK(single.best == "ce");
  CHECK(single.conclusion.find("it is the baseline") != std::string::npos);
}

TEST_CASE("report: without --metric and --baseline, the study's own answer as its runs recorded it") {
  registry_test::ScratchDir dir;
  XP_EACH_REGISTRY_BACKEND(location, dir.path / "registry.db");
  RunRegistry reg(location);
  // As `xp run` records a segmentation study whose file declares focal, tversky, compound (in that
  // order, not alphabetical), monitors val_ap and tests with metric plugins.
  auto study_run = [&](const std::string& variant, int64_t seed, double skill, std::map<std::string, std::string> tags) {
    RunInfo info = registry_test::run_info("seg", variant, seed,
                                           {{"train.checkpoint.monitor", "val_ap"}, {"train.checkpoint.mode", "max"}});
    info.tags = std::move(tags);
    std::string id = reg.begin(info);
    reg.log_metrics(id, 1, 10, {{"val_ap", skill - 0.1}, {"val_loss", 1.0}});
    reg.log_metrics(id, 2, 20, {{"val_ap", skill}, {"val_loss", 0.8}});
    reg.set_summary(id, {{"best_val_ap", skill}, {"best_epoch", 2}, {"test_ap", skill - 0.02}, {"test_iou", skill / 2},
                         {"test_loss", 0.9}, {"test_epoch", 2}, {"test_cal_f1", skill / 3}, {"test_cm_0_1", 4},
                         {"test_obj_precision_30", 0.5}, {"test_f1_class_1", 0.4}, {"test_reliability_3_conf", 0.3}});
    reg.finish(id, RunStatus::Finished);
  };
  const std::map<std::string, std::string> recorded = {{"report_variants", "focal,tversky,compound"}};
  for (int s = 0; s < 3; ++s) {
    study_run("focal", s, 0.60 + 0.01 * s, recorded);
    study_run("tversky", s, 0.70 + 0.01 * s, recorded);
    study_run("compound", s, 0.65 + 0.01 * s, recorded);
  }
  registry::ReportOptions opt;
  opt.experiment = "seg";
  auto r = registry::build_report(reg, opt);
  // The monitor, then the plugins' test metrics: not the loss, the test epoch, the calibrated
  // re-test or the per-class / per-threshold / per-bin values.
  CHECK(r.metrics == std::vector<std::string>{"val_ap", "test_ap", "test_iou"});
  CHECK(r.maximize == std::vector<bool>{true, true, true});
  CHECK(r.baseline == "focal");
  CHECK(r.baseline_reason == "declared first");
  REQUIRE(r.groups.size() == 3);
  CHECK(r.groups[0].label == "focal");  // the file's order
  CHECK(r.groups[1].label == "tversky");
  CHECK(r.groups[2].label == "compound");
  CHECK(r.best == "tversky");
  CHECK(group(r, "tversky").metrics[0].mean == doctest::Approx(0.71));
  REQUIRE(group(r, "tversky").metrics[0].vs_baseline);

  // [experiment] baseline and metric, recorded by the newest run, win; --baseline and --metric win over them.
  study_run("focal", 3, 0.61, {{"report_variants", "focal,tversky,compound"}, {"report_baseline", "compound"},
                               {"report_metric", "test_cal_f1"}});
  auto marked = registry::build_report(reg, opt);
  CHECK(marked.baseline == "compound");
  CHECK(marked.baseline_reason == "[experiment] baseline");
  CHECK(marked.metrics == std::vector<std::string>{"test_cal_f1", "val_ap", "test_ap", "test_iou"});
  opt.baseline = "tversky";
  opt.metrics = {"test_iou"};
  auto told = registry::build_report(reg, opt);
  CHECK(told.baseline == "tversky");
  CHECK(told.metrics == std::vector<std::string>{"test_iou"});

  // Grouped by something else, the variants' order does not apply: numeric order, first group.
  opt = {};
  opt.experiment = "seg";
  opt.group_by = {"seed"};
  auto by_seed = registry::build_report(reg, opt);
  CHECK(by_seed.groups[0].label == "0");
  CHECK(by_seed.baseline == "0");
}
