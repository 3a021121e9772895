// Ensembles: averaging aligned member predictions, refusing misaligned ones, scoring; five_crop TTA.
#include <doctest/doctest.h>
#include <torch/torch.h>

#include <cmath>

#include "eval/ensemble.h"
#include "eval/tta.h"
#include "xp/errors.h"

namespace {

// Counts argmax hits, as top1 does, so the test needs no plugin.
struct Hits : xp::Metric {
  int64_t hits = 0, n = 0;
  void reset() override { hits = n = 0; }
  void update(const xp::ModelOutput& output, const xp::Batch& batch) override {
    hits += (output.logits.argmax(1) == batch.target).sum().item<int64_t>();
    n += batch.size();
  }
  std::map<std::string, double> compute() const override {
    return {{"top1", n ? static_cast<double>(hits) / static_cast<double>(n) : 0.0}};
  }
};

xp::MemberPredictions member(const std::string& id, std::vector<float> probs, std::vector<int64_t> targets, int64_t k = 3) {
  xp::MemberPredictions m;
  m.id = id;
  const auto n = static_cast<int64_t>(targets.size());
  m.probabilities = torch::tensor(probs).view({n, k});
  m.targets = torch::tensor(targets);
  m.present = torch::ones({n}, torch::kBool);
  return m;
}

}  // namespace

TEST_CASE("ensemble: the mean of aligned probabilities, weighted, scored on samples every member has") {
  // Sample 0: a is right (class 0), b is wrong; sample 1: both right; sample 2: a wrong, b right.
  auto a = member("ra", {0.6f, 0.3f, 0.1f, 0.1f, 0.8f, 0.1f, 0.5f, 0.1f, 0.4f}, {0, 1, 2});
  auto b = member("rb", {0.2f, 0.7f, 0.1f, 0.2f, 0.6f, 0.2f, 0.1f, 0.1f, 0.8f}, {0, 1, 2});
  auto mean = xp::average_predictions({a, b}, {1.0, 1.0});
  CHECK(mean.probabilities[0][0].item<float>() == doctest::Approx(0.4));
  CHECK(mean.probabilities[2][2].item<float>() == doctest::Approx(0.6));
  CHECK(mean.probabilities.sum(1).allclose(torch::ones({3})));

  auto weighted = xp::average_predictions({a, b}, {1.0, 3.0});  // weights need not sum to 1
  CHECK(weighted.probabilities[0][1].item<float>() == doctest::Approx(0.25 * 0.3 + 0.75 * 0.7));

  std::vector<std::shared_ptr<xp::Metric>> metrics = {std::make_shared<Hits>()};
  auto sa = xp::score_predictions(a, mean.present, metrics, "test", 2);  // batches of 2: 2 + 1
  auto sb = xp::score_predictions(b, mean.present, metrics, "test");
  auto se = xp::score_predictions(mean, mean.present, metrics, "test");
  CHECK(sa.at("test_top1") == doctest::Approx(2.0 / 3));
  CHECK(sb.at("test_top1") == doctest::Approx(2.0 / 3));
  // Mean probabilities: sample 0 (0.4, 0.5, 0.1) wrong, 1 right, 2 (0.3, 0.1, 0.6) right.
  CHECK(se.at("test_top1") == doctest::Approx(2.0 / 3));
  CHECK(sa.at("test_nll") == doctest::Approx(-(std::log(0.6) + std::log(0.8) + std::log(0.4)) / 3).epsilon(1e-5));
  CHECK(se.at("test_nll") == doctest::Approx(-(std::log(0.4) + std::log(0.7) + std::log(0.6)) / 3).epsilon(1e-5));

  // A sample one member could not load is left out for everyone.
  b.present[1].fill_(false);
  auto partial = xp::average_predictions({a, b}, {1.0, 1.0});
  CHECK(partial.present.sum().item<int64_t>() == 2);
  auto sp = xp::score_predictions(a, partial.present, metrics, "test");
  CHECK(sp.at("test_top1") == doctest::Approx(0.5));  // samples 0 (right) and 2 (wrong)

  // One member alone, or the same member twice, is that member.
  auto twice = xp::average_predictions({a, a}, {1.0, 1.0});
  CHECK(twice.probabilities.allclose(a.probabilities));

  CHECK_THROWS_WITH_AS(xp::average_predictions({a, b}, {0.0, 0.0}), doctest::Contains("> 0"), xp::ConfigError);
  CHECK_THROWS_AS(xp::average_predictions({a, b}, {1.0}), xp::ConfigError);
  CHECK_THROWS_AS(xp::average_predictions({a, b}, {1.0, -1.0}), xp::ConfigError);
}

TEST_CASE("ensemble: members that predicted another split are refused, naming the member") {
  auto a = member("ra", std::vector<float>(9, 1.0f / 3), {0, 1, 2});
  auto fewer = member("rfew", std::vector<float>(6, 1.0f / 3), {0, 1});
  auto wider = member("rwide", std::vector<float>(12, 0.25f), {0, 1, 2}, 4);
  auto relabeled = member("rlab", std::vector<float>(9, 1.0f / 3), {0, 2, 2});
  CHECK_NOTHROW(xp::check_aligned({a, a}));
  CHECK_THROWS_WITH_AS(xp::check_aligned({a, fewer}), doctest::Contains("member rfew has 2 test samples, 3 in ra"),
                       xp::ConfigError);
  CHECK_THROWS_WITH_AS(xp::average_predictions({a, wider}, {1.0, 1.0}),
                       doctest::Contains("member rwide predicts 4 classes, 3 in ra"), xp::ConfigError);
  CHECK_THROWS_WITH_AS(xp::check_aligned({a, relabeled}), doctest::Contains("member rlab has other targets"),
                       xp::ConfigError);
  // A differing label on a sample the member could not load is no evidence against it.
  relabeled.present[1].fill_(false);
  CHECK_NOTHROW(xp::check_aligned({a, relabeled}));
  CHECK_THROWS_AS(xp::check_aligned({}), xp::ConfigError);
}

namespace {
// Class scores from the mean of the left and right halves: translation- and scale-sensitive.
struct Halves : xp::Model {
  xp::ModelOutput forward(const torch::Tensor& x) override {
    const int64_t w = x.size(3);
    auto left = x.narrow(3, 0, w / 2).mean({1, 2, 3}), right = x.narrow(3, w / 2, w - w / 2).mean({1, 2, 3});
    return {torch::stack({left, right}, 1) * 10, {}};
  }
};
}  // namespace

TEST_CASE("five_crop TTA: five views of a constant image agree; classification only") {
  Halves m;
  auto flat = torch::full({2, 1, 16, 16}, 0.5);
  auto plain = xp::predict_probabilities(m, flat, xp::Task::Classification, "none");
  auto crops = xp::predict_probabilities(m, flat, xp::Task::Classification, "five_crop");
  CHECK(crops.sizes().equals(plain.sizes()));
  CHECK(torch::allclose(plain, crops, 1e-5, 1e-5));
  // A bright left edge: the right-hand crops miss part of it, so the average sees less of it.
  auto edge = torch::zeros({1, 1, 16, 16});
  edge.narrow(3, 0, 2).fill_(1.0);
  auto p_plain = xp::predict_probabilities(m, edge, xp::Task::Classification, "none")[0][0].item<double>();
  auto p_crops = xp::predict_probabilities(m, edge, xp::Task::Classification, "five_crop")[0][0].item<double>();
  CHECK(p_crops != doctest::Approx(p_plain));
  CHECK_NOTHROW(xp::check_tta_mode("five_crop"));
  CHECK_THROWS_WITH(xp::check_tta_mode("fivecrop"), doctest::Contains("did you mean 'five_crop'"));
  CHECK_THROWS_AS(xp::predict_probabilities(m, edge, xp::Task::Segmentation, "five_crop"), xp::ConfigError);
}
