// The data behind the HTML pages (report/): curves, downsampling, task panels, the study page's
// data model against the JSON report, and the page's self-containment.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "curves.h"
#include "html_page.h"
#include "run_json.h"
#include "run_report.h"
#include "study_page.h"
#include "sweep_page.h"
#include "task_panels.h"
#include "test_registry_support.h"
#include "vega_bundle.h"

using namespace xp;
using nlohmann::json;

TEST_CASE("html: a run's series keeps the last value of each epoch and drops NaN") {
  std::vector<MetricPoint> h = {{"val_acc", 1, 10, 0.5, 0}, {"val_acc", 1, 12, 0.6, 0}, {"val_acc", 2, 20, NAN, 0},
                                {"val_acc", 3, 30, 0.8, 0}, {"train_loss", 1, 10, 2.0, 0}};
  auto s = report::run_series(h);
  REQUIRE(s.size() == 2);
  REQUIRE(s["val_acc"].size() == 2);
  CHECK(s["val_acc"][0].epoch == 1);
  CHECK(s["val_acc"][0].step == 12);
  CHECK(s["val_acc"][0].value == 0.6);
  CHECK(s["val_acc"][1].epoch == 3);
}

TEST_CASE("html: the mean curve is the mean and sample std over the runs at each epoch") {
  using P = report::SeriesPoint;
  std::vector<std::vector<P>> runs = {{{1, 10, 1.0}, {2, 20, 2.0}}, {{1, 10, 3.0}, {2, 22, 4.0}}, {{1, 10, 5.0}}};
  auto c = report::mean_curve(runs);
  REQUIRE(c.size() == 2);
  CHECK(c[0].n == 3);
  CHECK(c[0].mean == doctest::Approx(3.0));
  CHECK(c[0].std == doctest::Approx(2.0));  // values 1, 3, 5
  CHECK(c[1].n == 2);
  CHECK(c[1].mean == doctest::Approx(3.0));
  CHECK(c[1].std == doctest::Approx(std::sqrt(2.0)));
  CHECK(c[1].step == doctest::Approx(21.0));
}

TEST_CASE("html: downsampling keeps the first and last point, evenly spread, never more than asked") {
  CHECK(report::downsample_indices(5, 10) == std::vector<size_t>{0, 1, 2, 3, 4});
  CHECK(report::downsample_indices(0, 10).empty());
  auto idx = report::downsample_indices(10000, 200);
  REQUIRE(idx.size() == 200);
  CHECK(idx.front() == 0);
  CHECK(idx.back() == 9999);
  CHECK(std::adjacent_find(idx.begin(), idx.end(), [](size_t a, size_t b) { return b <= a; }) == idx.end());
  CHECK(idx[100] == 5025);  // round(100 * 9999 / 199)
}

TEST_CASE("html: metric names split into split and base") {
  CHECK(report::split_metric_name("train_loss").split == "train");
  CHECK(report::split_metric_name("train_loss").base == "loss");
  CHECK(report::split_metric_name("test_cal_f1").split == "test_cal");
  CHECK(report::split_metric_name("val_top1").base == "top1");
  CHECK(report::split_metric_name("lr").split.empty());
  CHECK(report::split_metric_name("val_").base == "val_");
}

TEST_CASE("html: task panels read confusion matrices, per-class values and PR points") {
  std::map<std::string, double> m = {{"test_cm_0_0", 8}, {"test_cm_0_1", 2}, {"test_cm_1_0", 1}, {"test_cm_1_1", 9},
                                     {"test_f1_class_0", 0.8}, {"val_recall_class_1", 0.9},
                                     {"test_obj_precision_50", 0.7}, {"test_obj_recall_50", 0.6},
                                     {"test_obj_precision_90", 0.9},  // no recall at 0.9: no point
                                     {"test_top1", 0.85}};
  auto p = report::task_panels({{"a", m}});
  REQUIRE(p.confusion.count("test"));
  REQUIRE(p.confusion["test"].size() == 4);
  for (const auto& c : p.confusion["test"])
    if (c["truth"] == 0 && c["pred"] == 1) CHECK(c["rate"].get<double>() == doctest::Approx(0.2));
  REQUIRE(p.f1["test"].size() == 1);
  CHECK(p.f1["test"][0]["class"] == 0);
  REQUIRE(p.recall["val"].size() == 1);
  REQUIRE(p.pr["test"].size() == 1);
  CHECK(p.pr["test"][0]["threshold"].get<double>() == doctest::Approx(0.5));
  CHECK(p.pr["test"][0]["recall"].get<double>() == doctest::Approx(0.6));
  CHECK(report::task_panels({{"a", {{"test_top1", 0.9}}}}).empty());

  // Reliability bins as the calibration callback records them, before and after temperature scaling.
  auto rel = report::task_panels({{"a", {{"test_reliability_0_conf", 0.02}, {"test_reliability_0_freq", 0.01},
                                         {"test_reliability_0_share", 0.9}, {"test_cal_reliability_9_conf", 0.95},
                                         {"test_cal_reliability_9_freq", 0.9}, {"test_cal_reliability_9_share", 0.1},
                                         {"test_reliability_5_conf", 0.5}}}});  // no freq, share: no point
  REQUIRE(rel.reliability.count("test"));
  REQUIRE(rel.reliability["test"].size() == 2);
  CHECK(rel.reliability["test"][0]["calibration"] == "before");
  CHECK(rel.reliability["test"][0]["conf"].get<double>() == doctest::Approx(0.02));
  CHECK(rel.reliability["test"][1]["calibration"] == "after");
  CHECK(rel.reliability["test"][1]["bin"] == 9);
  CHECK(rel.reliability["test"][1]["share"].get<double>() == doctest::Approx(0.1));
  for (const char* panel : {"test_cm_0_1", "val_f1_class_2", "test_obj_recall_30", "test_cal_reliability_3_freq"})
    CHECK_MESSAGE(registry::is_panel_metric(panel), panel);
  CHECK_FALSE(registry::is_panel_metric("test_obj_f1_30"));
  auto mean = report::mean_metrics({{{"x", 1.0}, {"y", NAN}}, {{"x", 3.0}}});
  CHECK(mean["x"] == doctest::Approx(2.0));
  CHECK(!mean.count("y"));
}

TEST_CASE("html: the study page's numbers are the JSON report's; failed and crashed runs are listed, marked") {
  registry_test::ScratchDir dir;
  RunRegistry reg(dir.path / "registry.db");
  for (int s = 0; s < 3; ++s) {
    registry_test::record_run(reg, "exp", "focal", s, 0.90 + 0.01 * s, {{"loss.name", "focal"}, {"train.epochs", "3"}});
    registry_test::record_run(reg, "exp", "ce", s, 0.85 + 0.02 * s, {{"loss.name", "ce"}, {"train.epochs", "3"}});
  }
  std::string failed = registry_test::record_run(reg, "exp", "focal", 7, 0.1, {{"loss.name", "focal"}}, RunStatus::Failed);
  std::string crashed = registry_test::record_run(reg, "exp", "ce", 8, 0.1, {{"loss.name", "ce"}}, RunStatus::Crashed);

  registry::ReportOptions opt;
  opt.experiment = "exp";
  opt.metrics = {"val_acc", "test_acc"};
  opt.baseline = "ce";
  auto r = registry::build_report(reg, opt);
  auto data = report::study_page_data(reg, r, opt);
  CHECK(data["report"] == registry::report_to_json(r));

  REQUIRE(data["runs"].size() == 8);
  int outside = 0;
  for (const auto& run : data["runs"])
    if (!run["in_report"].get<bool>()) {
      ++outside;
      CHECK((run["id"] == failed || run["id"] == crashed));
      CHECK((run["status"] == "failed" || run["status"] == "crashed"));
    }
  CHECK(outside == 2);

  // val_acc of focal at epoch 3 is 0.90, 0.91, 0.92 over the seeds; at epoch 1 each is 0.2 less.
  const json* acc = nullptr;
  for (const auto& c : data["curves"])
    if (c["metric"] == "acc") acc = &c;
  REQUIRE(acc);
  bool found = false;
  for (const auto& line : (*acc)["means"])
    if (line["group"] == "focal" && line["split"] == "val") {
      REQUIRE(line["epoch"] == json::array({1, 2, 3}));
      found = true;
      CHECK(line["mean"][2].get<double>() == doctest::Approx(0.91));
      CHECK(line["std"][2].get<double>() == doctest::Approx(0.01));
      CHECK(line["mean"][0].get<double>() == doctest::Approx(0.71));
      CHECK(line["n"][2] == 3);
    }
  CHECK(found);
  CHECK((*acc)["seeds"].size() == 6);  // one val_acc line per run; the failed and crashed runs are in no group
  for (const auto& line : (*acc)["seeds"]) CHECK(line["value"].size() == 3);

  // Seed lines are capped per variant and in all.
  report::StudyPageLimits few;
  few.seed_lines_total = 2;
  CHECK(report::study_page_data(reg, r, opt, few)["curves"][0]["seeds"].size() == 2);

  // Thousands of runs: each variant's curves, config diff and panels read evenly spread runs; the
  // provenance table lists every run outside the statistics and a capped number of the others,
  // and counts every run by its provenance.
  report::StudyPageLimits sampled;
  sampled.runs_read = 2;
  sampled.runs_listed = 2;
  auto big = report::study_page_data(reg, r, opt, sampled);
  CHECK(big["runs_read"]["focal"] == 2);
  CHECK(big["runs_read"]["ce"] == 2);
  CHECK(big["curves"][0]["seeds"].size() == 4);
  REQUIRE(big["runs"].size() == 4);  // the failed and the crashed run, then 2 of the 6 in the statistics
  CHECK_FALSE(big["runs"][0]["in_report"].get<bool>());
  CHECK_FALSE(big["runs"][1]["in_report"].get<bool>());
  CHECK(big["runs"][3]["in_report"].get<bool>());
  CHECK(big["runs_unlisted"] == 4);
  CHECK(big["runs_total"] == 8);
  CHECK(big["runs_in_statistics"] == 6);
  REQUIRE(big["provenance"].size() == 1);
  CHECK(big["provenance"][0]["runs"] == 8);
  const std::string big_html = report::render_study_page(big);
  CHECK(big_html.find("4 of the 6 runs in the statistics are not listed") != std::string::npos);
  CHECK(big_html.find("ce: 2 of 3, focal: 2 of 3") != std::string::npos);

  // Only what differs between the variants.
  CHECK(data["config_diff"]["keys"] == json::array({"loss.name"}));
  CHECK(data["config_diff"]["groups"]["focal"]["loss.name"] == "focal");

  const std::string html = report::render_study_page(data);
  CHECK(html.find("Content-Security-Policy") != std::string::npos);
  // Nothing is loaded from anywhere: xp's own markup (the page without the vendored bundle, whose
  // tooltip code builds <img> tags from chart data) has no element or URL that fetches.
  std::string own = html;
  for (auto js : {report::vega_js(), report::vega_lite_js(), report::vega_embed_js()}) {
    auto at = own.find(js);
    REQUIRE(at != std::string::npos);
    own.erase(at, js.size());
  }
  CHECK(own.size() < 100'000);
  for (const char* loads : {"<script src", "<link", "<img", "<iframe", "src=\"http", "href=\"http", "url(http"})
    CHECK_MESSAGE(own.find(loads) == std::string::npos, loads);
  CHECK(html.find("class=\"status-failed\"") != std::string::npos);
  CHECK(html.find("class=\"status-crashed\"") != std::string::npos);
  CHECK(html.find("id=\"ablation-val_acc\"") != std::string::npos);
  CHECK(html.find("id=\"xp-data-report\"") != std::string::npos);
  CHECK(html.size() < 2'000'000);
}

TEST_CASE("html: a sweep's rows: best so far only improves, pruned trials show their last watched value") {
  sweeps::SweepRecord sweep;
  sweep.direction = sweeps::Direction::Minimize;
  sweeps::SweepConfig config;
  sweeps::Dimension lr;
  lr.key = "lr";
  lr.type = sweeps::DimensionType::LogUniform;
  lr.low = 1e-4;
  lr.high = 1e-1;
  config.space = sweeps::SearchSpace({lr});
  auto trial = [](int64_t n, sweeps::TrialState s, std::optional<double> v, double at) {
    sweeps::TrialRecord t;
    t.number = n;
    t.state = s;
    t.value = v;
    t.params["lr"] = Value(0.001 * double(n + 1));
    t.started_at = at - 1;
    t.finished_at = at;
    return t;
  };
  std::vector<sweeps::TrialRecord> trials = {trial(0, sweeps::TrialState::Complete, 0.5, 10),
                                             trial(1, sweeps::TrialState::Complete, 0.7, 20),
                                             trial(2, sweeps::TrialState::Pruned, std::nullopt, 30),
                                             trial(3, sweeps::TrialState::Complete, 0.3, 40)};
  trials[2].intermediate = {{1, 0.9}, {2, 0.8}};
  trials[2].pruned_epoch = 2;
  auto rows = report::sweep_trial_rows(sweep, config, trials);
  REQUIRE(rows.size() == 4);
  CHECK(rows[1]["best_so_far"].get<double>() == doctest::Approx(0.5));
  CHECK(rows[2]["state"] == "pruned");
  CHECK(rows[2]["value"].is_null());
  CHECK(rows[2]["shown"].get<double>() == doctest::Approx(0.8));
  CHECK(rows[2]["note"] == "pruned at epoch 2");
  CHECK(rows[3]["best_so_far"].get<double>() == doctest::Approx(0.3));
  CHECK(rows[0]["p0"].get<double>() == doctest::Approx(0.001));
}

TEST_CASE("html: script JSON and text cannot end the page's elements early") {
  CHECK(report::script_json(json{{"x", "</script><b>"}}).find("</") == std::string::npos);
  CHECK(report::html_escape("<a href=\"x\">&'") == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  for (auto js : {report::vega_js(), report::vega_lite_js(), report::vega_embed_js()}) {
    std::string lower(js);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    CHECK(js.size() > 50'000);
    CHECK(lower.find("</script") == std::string::npos);
    CHECK(lower.find("<!--") == std::string::npos);
    CHECK(lower.find("sourcemappingurl") == std::string::npos);
  }
  CHECK(std::string(report::vega_versions()) == "vega 6.4.0, vega-lite 6.5.0, vega-embed 7.3.0");
}
