// pixel / object / pr_auc metrics on hand-made masks, AP against a brute-force computation.
#include <algorithm>
#include <random>

#include "xp/plugin.h"
// After the torch headers: glog (pulled in by c10) defines its own CHECK.
#include <doctest/doctest.h>

namespace seg_test {
xp::Params params(const std::string& kind, const std::string& name, const xp::Value::Table& overrides = {});
}

namespace {

std::shared_ptr<xp::Metric> make_metric(const std::string& name, const xp::Value::Table& overrides = {}) {
  return xp::create<xp::Metric>(seg_test::params("metric", name, overrides));
}

// Rows of '.', '#' (positive), 'x' (ignored) -> [1,1,H,W] target; predictions '#' -> logit +5.
torch::Tensor grid(const std::vector<std::string>& rows, float on, float off, float ignored) {
  auto t = torch::full({1, 1, (int64_t)rows.size(), (int64_t)rows[0].size()}, off);
  for (size_t y = 0; y < rows.size(); ++y)
    for (size_t x = 0; x < rows[y].size(); ++x)
      t[0][0][y][x] = rows[y][x] == '#' ? on : rows[y][x] == 'x' ? ignored : off;
  return t;
}

std::map<std::string, double> score(xp::Metric& m, const torch::Tensor& logits, const torch::Tensor& target) {
  xp::ModelOutput out;
  out.logits = logits;
  xp::Batch b;
  b.target = target;
  m.update(out, b);
  return m.compute();
}

// AP as sklearn defines it: sort by score, one threshold per distinct score.
double brute_force_ap(std::vector<std::pair<double, bool>> items) {
  std::sort(items.begin(), items.end(), [](auto& a, auto& b) { return a.first > b.first; });
  double positives = 0;
  for (auto& i : items) positives += i.second;
  double tp = 0, fp = 0, ap = 0, last_recall = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    (items[i].second ? tp : fp) += 1;
    if (i + 1 < items.size() && items[i + 1].first == items[i].first) continue;
    double recall = tp / positives;
    ap += (recall - last_recall) * tp / (tp + fp);
    last_recall = recall;
  }
  return ap;
}

}  // namespace

TEST_CASE("seg metrics: pixel iou / precision / recall / f1, ignored pixels left out") {
  auto target = grid({"##..",
                      "##..",
                      "..xx",
                      "...."}, 1, 0, 255);
  auto pred = grid({"#...",
                    "##..",
                    "..##",
                    "...#"}, 5, -5, -5);
  auto m = make_metric("pixel");
  auto r = score(*m, pred, target);
  // tp 3, fn 1, fp 1 (the predictions on ignored pixels do not count)
  CHECK(r["iou"] == doctest::Approx(3.0 / 5));
  CHECK(r["precision"] == doctest::Approx(3.0 / 4));
  CHECK(r["recall"] == doctest::Approx(3.0 / 4));
  CHECK(r["f1"] == doctest::Approx(6.0 / 8));
  m->reset();
  auto empty = score(*m, torch::full({1, 1, 4, 4}, -5.0f), target);
  CHECK(empty["iou"] == 0.0);
  CHECK(empty["recall"] == 0.0);
  // The threshold is on the probability.
  auto t = make_metric("pixel", {{"threshold", 0.9}});
  CHECK(score(*t, grid({"##"}, 1.0f, 1.0f, 0), grid({"##"}, 1, 0, 255))["recall"] == 0.0);
}

TEST_CASE("seg metrics: object matching on hand-made masks") {
  // Truth: A (2x2 top-left), B (3x1 right column), C (single pixel bottom-left).
  // Prediction: A exactly, B shifted by one (IoU 2/4 = 0.5), a false alarm F, C missed.
  auto target = grid({"##.....#",
                      "##.....#",
                      ".......#",
                      "........",
                      "#......."}, 1, 0, 255);
  auto pred = grid({"##......",
                    "##.....#",
                    ".......#",
                    "...##..#",
                    "........"}, 5, -5, -5);
  auto m = make_metric("object", {{"iou_thresholds", xp::Value::List{0.1, 0.5, 0.6}}});
  auto r = score(*m, pred, target);
  // IoU >= 0.1 and 0.5: A, B matched; tp 2, fp 1 (F), fn 1 (C).
  CHECK(r["obj_precision_10"] == doctest::Approx(2.0 / 3));
  CHECK(r["obj_recall_10"] == doctest::Approx(2.0 / 3));
  CHECK(r["obj_f1_50"] == doctest::Approx(2.0 / 3));
  // IoU >= 0.6: only A; tp 1, fp 2, fn 2.
  CHECK(r["obj_precision_60"] == doctest::Approx(1.0 / 3));
  CHECK(r["obj_recall_60"] == doctest::Approx(1.0 / 3));
  CHECK(r["obj_f1_60"] == doctest::Approx(2.0 / 6));
  CHECK(r.count("obj_f1_30") == 0);

  // One prediction covering two objects matches at most one of them (greedy, one-to-one).
  auto merged = make_metric("object", {{"iou_thresholds", xp::Value::List{0.1}}});
  auto two = grid({"#.#"}, 1, 0, 255);
  auto r2 = score(*merged, grid({"###"}, 5, -5, -5), two);
  CHECK(r2["obj_recall_10"] == doctest::Approx(0.5));
  CHECK(r2["obj_precision_10"] == doctest::Approx(1.0));

  // Diagonal neighbours are one object with 8-connectivity, two with 4.
  auto diag = grid({"#.",
                    ".#"}, 1, 0, 255);
  auto c8 = make_metric("object", {{"iou_thresholds", xp::Value::List{0.5}}});
  CHECK(score(*c8, grid({"#.", ".#"}, 5, -5, -5), diag)["obj_recall_50"] == 1.0);
  auto c4 = make_metric("object", {{"iou_thresholds", xp::Value::List{0.5}}, {"connectivity", int64_t{4}}});
  CHECK(score(*c4, grid({"#.", ".."}, 5, -5, -5), diag)["obj_recall_50"] == doctest::Approx(0.5));

  // Predictions inside ignored pixels are not false alarms; min_area drops specks.
  auto ign = make_metric("object", {{"iou_thresholds", xp::Value::List{0.5}}});
  CHECK(score(*ign, grid({"#..#"}, 5, -5, -5), grid({"#..x"}, 1, 0, 255))["obj_precision_50"] == 1.0);
  auto speck = make_metric("object", {{"iou_thresholds", xp::Value::List{0.5}}, {"min_area", int64_t{2}}});
  CHECK(score(*speck, grid({"##.#"}, 5, -5, -5), grid({"##.."}, 1, 0, 255))["obj_precision_50"] == 1.0);
}

TEST_CASE("seg metrics: pr_auc against brute force") {
  std::mt19937 gen(7);
  std::uniform_real_distribution<double> u(0, 1);
  // Scores on distinct bin centres: the histogram is exact.
  const int n = 2000;
  std::vector<int> bins(10000);
  for (int i = 0; i < 10000; ++i) bins[i] = i;
  std::shuffle(bins.begin(), bins.end(), gen);
  auto logits = torch::empty({1, 1, 1, n});
  auto target = torch::empty({1, 1, 1, n});
  std::vector<std::pair<double, bool>> items;
  for (int i = 0; i < n; ++i) {
    double p = (bins[i] + 0.5) / 10000.0;
    bool positive = u(gen) < 0.2 + 0.6 * p;  // informative but imperfect
    float logit = static_cast<float>(std::log(p / (1 - p)));
    logits[0][0][0][i] = logit;
    target[0][0][0][i] = positive ? 1.0f : 0.0f;
    // What the metric sees after sigmoid(float logit).
    items.emplace_back(1.0 / (1.0 + std::exp(-static_cast<double>(logit))), positive);
  }
  auto m = make_metric("pr_auc", {{"neg_ratios", xp::Value::List{int64_t{1}}}});
  auto r = score(*m, logits, target);
  double exact = brute_force_ap(items);
  CHECK(r["ap"] == doctest::Approx(exact).epsilon(1e-6));
  CHECK(r["ap"] > 0.5);
  CHECK(r["ap"] < 0.95);

  // Random scores, ties within a bin: close to brute force.
  auto logits2 = torch::randn({2, 1, 16, 16}) * 2;
  auto target2 = (torch::rand({2, 1, 16, 16}) < torch::sigmoid(logits2)).to(torch::kFloat);
  target2[0][0][0][0] = 255.0f;  // ignored
  std::vector<std::pair<double, bool>> items2;
  auto p2 = torch::sigmoid(logits2).flatten();
  auto t2 = target2.flatten();
  for (int64_t i = 1; i < p2.numel(); ++i) items2.emplace_back(p2[i].item<double>(), t2[i].item<float>() > 0.5f);
  auto m2 = make_metric("pr_auc");
  CHECK(score(*m2, logits2, target2)["ap"] == doctest::Approx(brute_force_ap(items2)).epsilon(2e-3));
}

TEST_CASE("seg metrics: pr_auc with negatives subsampled equals brute force on the thinned set") {
  // 5 positives and 5 negatives at each of 3 scores, plus every negative copied 400 times: thinning
  // the 400x negatives to 1:1 is the same as the 1x set.
  std::vector<std::pair<double, bool>> small;
  std::vector<float> logits, target;
  const double scores[] = {0.9, 0.6, 0.3};
  const bool pos_at[3][2] = {{true, true}, {true, false}, {false, false}};
  for (int s = 0; s < 3; ++s)
    for (int k = 0; k < 2; ++k) {
      small.emplace_back(scores[s], pos_at[s][k]);
      int copies = pos_at[s][k] ? 1 : 400;
      for (int c = 0; c < copies; ++c) {
        logits.push_back(static_cast<float>(std::log(scores[s] / (1 - scores[s]))));
        target.push_back(pos_at[s][k] ? 1.0f : 0.0f);
      }
    }
  // 3 positives, 3 * 400 negatives: 1:400 keeps everything, 1:1 keeps 1/400.
  auto m = make_metric("pr_auc", {{"neg_ratios", xp::Value::List{int64_t{1}, int64_t{400}, int64_t{1000}}}});
  auto n = static_cast<int64_t>(logits.size());
  auto r = score(*m, torch::tensor(logits).reshape({1, 1, 1, n}), torch::tensor(target).reshape({1, 1, 1, n}));
  CHECK(r["ap_1_1"] == doctest::Approx(brute_force_ap(small)).epsilon(1e-9));
  CHECK(r["ap_1_400"] == doctest::Approx(r["ap"]));
  CHECK(r["ap_1_1000"] == doctest::Approx(r["ap"]));
  CHECK(r["ap"] < r["ap_1_1"]);
  m->reset();
  CHECK(m->compute()["ap"] == 0.0);
}
