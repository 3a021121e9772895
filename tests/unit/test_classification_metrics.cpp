// Metrics against counts worked out by hand, accumulated over two batches.
#include <doctest/doctest.h>

#include "test_classification_support.h"

using xp_test::make;

namespace {

// Logits whose argmax is `predicted` and whose second choice is `second`.
std::pair<xp::ModelOutput, xp::Batch> batch_of(std::vector<int64_t> targets, std::vector<int64_t> predicted,
                                                std::vector<int64_t> second, int64_t classes = 3) {
  xp::ModelOutput out;
  out.logits = torch::zeros({static_cast<int64_t>(targets.size()), classes});
  for (size_t i = 0; i < targets.size(); ++i) {
    out.logits[i][predicted[i]] = 2.0;
    out.logits[i][second[i]] = 1.0;
  }
  xp::Batch b;
  b.target = torch::tensor(targets, torch::kLong);
  return {out, b};
}

// targets 0 0 1 1 2 2, predictions 0 1 1 1 2 0 (second choices 1 0 0 2 1 2), over two batches.
template <class Fn>
void feed(xp::Metric& m, Fn&& check_after) {
  m.reset();
  auto [o1, b1] = batch_of({0, 0, 1}, {0, 1, 1}, {1, 0, 0});
  auto [o2, b2] = batch_of({1, 2, 2}, {1, 2, 0}, {2, 1, 2});
  m.update(o1, b1);
  m.update(o2, b2);
  check_after(m.compute());
}

}  // namespace

TEST_CASE("metric top1 and topk count exactly across batches") {
  auto top1 = make<xp::Metric>("top1");
  feed(*top1, [](auto r) { CHECK(r.at("top1") == doctest::Approx(4.0 / 6)); });
  auto top2 = make<xp::Metric>("topk", {{"k", 2}});
  // Misses at top-1 were samples 2 (second choice 0 = target) and 6 (second choice 2 = target).
  feed(*top2, [](auto r) { CHECK(r.at("top2") == doctest::Approx(1.0)); });
  // k above the class count counts everything; reset() starts a fresh pass.
  auto top5 = make<xp::Metric>("topk");
  feed(*top5, [](auto r) { CHECK(r.at("top5") == 1.0); });
  top1->reset();
  CHECK(top1->compute().at("top1") == 0.0);
}

TEST_CASE("metric f1: macro and per-class F1") {
  auto f1 = make<xp::Metric>("f1", {{"per_class", true}});
  feed(*f1, [](auto r) {
    // class 0: TP 1, support 2, predicted 2 -> 0.5; class 1: TP 2, 2, 3 -> 0.8; class 2: TP 1, 2, 1 -> 2/3
    CHECK(r.at("f1_class_0") == doctest::Approx(0.5));
    CHECK(r.at("f1_class_1") == doctest::Approx(0.8));
    CHECK(r.at("f1_class_2") == doctest::Approx(2.0 / 3));
    CHECK(r.at("f1_macro") == doctest::Approx((0.5 + 0.8 + 2.0 / 3) / 3));
  });
  auto macro_only = make<xp::Metric>("f1");
  feed(*macro_only, [](auto r) {
    CHECK(r.size() == 1);
    CHECK(r.count("f1_macro") == 1);
  });
}

TEST_CASE("metric confusion_matrix: entries, recall, balanced accuracy") {
  auto cm = make<xp::Metric>("confusion_matrix");
  feed(*cm, [](auto r) {
    CHECK(r.at("cm_0_0") == 1);
    CHECK(r.at("cm_0_1") == 1);
    CHECK(r.at("cm_1_1") == 2);
    CHECK(r.at("cm_2_0") == 1);
    CHECK(r.at("cm_2_2") == 1);
    CHECK(r.at("cm_1_0") == 0);
    CHECK(r.at("recall_class_1") == 1.0);
    CHECK(r.at("recall_class_2") == 0.5);
    CHECK(r.at("balanced_accuracy") == doctest::Approx(2.0 / 3));
  });
  auto no_entries = make<xp::Metric>("confusion_matrix", {{"max_classes", 2}});
  feed(*no_entries, [](auto r) {
    CHECK(r.count("cm_0_0") == 0);
    CHECK(r.count("recall_class_0") == 1);
  });
}

TEST_CASE("metrics reject mismatched logits and targets") {
  auto top1 = make<xp::Metric>("top1");
  xp::ModelOutput out;
  out.logits = torch::zeros({3, 2});
  xp::Batch b;
  b.target = torch::zeros({4}, torch::kLong);
  CHECK_THROWS_WITH(top1->update(out, b), doctest::Contains("matching the logits"));
  auto f1 = make<xp::Metric>("f1");
  b.target = torch::tensor({0, 1, 5}, torch::kLong);
  CHECK_THROWS_WITH(f1->update(out, b), doctest::Contains("target 5"));
}
