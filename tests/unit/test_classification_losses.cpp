// Classification losses against values computed by hand from the formulas.
#include <doctest/doctest.h>

#include <cmath>

#include "test_classification_support.h"

using xp_test::make;

namespace {

xp::Batch hard_batch(std::vector<int64_t> targets) {
  xp::Batch b;
  b.target = torch::tensor(targets, torch::kLong);
  return b;
}

xp::ModelOutput logits_of(std::vector<std::vector<float>> rows) {
  xp::ModelOutput out;
  std::vector<torch::Tensor> t;
  for (auto& r : rows) t.push_back(torch::tensor(r));
  out.logits = torch::stack(t);
  return out;
}

std::vector<double> log_softmax(const std::vector<double>& z) {
  double sum = 0;
  for (double v : z) sum += std::exp(v);
  std::vector<double> out;
  for (double v : z) out.push_back(v - std::log(sum));
  return out;
}

double value(const torch::Tensor& t) { return t.item<double>(); }

}  // namespace

TEST_CASE("cross_entropy: plain, label smoothing and class weights by hand") {
  auto out = logits_of({{2.0f, 1.0f, 0.1f}, {0.5f, 2.5f, -1.0f}});
  auto lp0 = log_softmax({2.0, 1.0, 0.1}), lp1 = log_softmax({0.5, 2.5, -1.0});
  auto batch = hard_batch({0, 2});

  auto ce = make<xp::Loss>("cross_entropy");
  CHECK(value(ce->forward(out, batch)) == doctest::Approx((-lp0[0] - lp1[2]) / 2).epsilon(1e-6));

  // Smoothing eps over K classes: target 1 - eps + eps/K on the true class, eps/K elsewhere.
  const double eps = 0.1, on = 1 - eps + eps / 3, off = eps / 3;
  auto smooth = make<xp::Loss>("cross_entropy", {{"label_smoothing", eps}});
  double s0 = -(on * lp0[0] + off * lp0[1] + off * lp0[2]);
  double s1 = -(off * lp1[0] + off * lp1[1] + on * lp1[2]);
  CHECK(value(smooth->forward(out, batch)) == doctest::Approx((s0 + s1) / 2).epsilon(1e-6));

  // Class weights: weighted mean over the targets' weights (PyTorch's definition).
  auto weighted = make<xp::Loss>("cross_entropy", {{"weights", xp_test::floats({1.0, 1.0, 4.0})}});
  CHECK(value(weighted->forward(out, batch)) == doctest::Approx((-lp0[0] - 4 * lp1[2]) / 5).epsilon(1e-6));
  auto wrong = make<xp::Loss>("cross_entropy", {{"weights", xp_test::floats({1.0, 2.0})}});
  CHECK_THROWS_WITH(wrong->forward(out, batch), doctest::Contains("3 classes"));
}

TEST_CASE("cross_entropy: soft targets give the soft-label cross-entropy") {
  auto out = logits_of({{2.0f, 1.0f, 0.1f}});
  auto lp = log_softmax({2.0, 1.0, 0.1});
  xp::Batch batch = hard_batch({0});
  batch.soft_target = torch::tensor({0.7f, 0.3f, 0.0f}).unsqueeze(0);
  auto ce = make<xp::Loss>("cross_entropy");
  CHECK(value(ce->forward(out, batch)) == doctest::Approx(-(0.7 * lp[0] + 0.3 * lp[1])).epsilon(1e-6));
  // A one-hot soft target is the hard-label loss.
  batch.soft_target = torch::tensor({0.0f, 1.0f, 0.0f}).unsqueeze(0);
  CHECK(value(ce->forward(out, batch)) == doctest::Approx(-lp[1]).epsilon(1e-6));
}

TEST_CASE("focal: gamma 0 is cross-entropy; gamma 2 and alpha by hand; soft targets") {
  torch::manual_seed(3);
  xp::ModelOutput out;
  out.logits = torch::randn({16, 5});
  xp::Batch batch;
  batch.target = torch::randint(0, 5, {16}, torch::kLong);
  auto ce = make<xp::Loss>("cross_entropy");
  auto focal0 = make<xp::Loss>("focal", {{"gamma", 0.0}});
  CHECK(value(focal0->forward(out, batch)) == doctest::Approx(value(ce->forward(out, batch))).epsilon(1e-6));

  auto small = logits_of({{2.0f, 1.0f, 0.1f}, {0.5f, 2.5f, -1.0f}});
  auto lp0 = log_softmax({2.0, 1.0, 0.1}), lp1 = log_softmax({0.5, 2.5, -1.0});
  auto hard = hard_batch({0, 2});
  auto fl = [](double log_p, double gamma) { return -std::pow(1 - std::exp(log_p), gamma) * log_p; };
  auto focal2 = make<xp::Loss>("focal", {{"gamma", 2.0}});
  CHECK(value(focal2->forward(small, hard)) == doctest::Approx((fl(lp0[0], 2) + fl(lp1[2], 2)) / 2).epsilon(1e-6));
  // Focal down-weights: below cross-entropy on the same batch.
  CHECK(value(focal2->forward(small, hard)) < value(ce->forward(small, hard)));

  auto alpha = make<xp::Loss>("focal", {{"gamma", 2.0}, {"alpha", xp_test::floats({0.25, 1.0, 0.5})}, {"reduction", "sum"}});
  CHECK(value(alpha->forward(small, hard)) == doctest::Approx(0.25 * fl(lp0[0], 2) + 0.5 * fl(lp1[2], 2)).epsilon(1e-6));
  auto scalar = make<xp::Loss>("focal", {{"gamma", 1.0}, {"alpha", xp_test::floats({0.25})}});
  CHECK(value(scalar->forward(small, hard)) == doctest::Approx(0.25 * (fl(lp0[0], 1) + fl(lp1[2], 1)) / 2).epsilon(1e-6));

  xp::Batch soft = hard_batch({0});
  soft.soft_target = torch::tensor({0.6f, 0.4f, 0.0f}).unsqueeze(0);
  auto one = logits_of({{2.0f, 1.0f, 0.1f}});
  CHECK(value(focal2->forward(one, soft)) == doctest::Approx(0.6 * fl(lp0[0], 2) + 0.4 * fl(lp0[1], 2)).epsilon(1e-6));
}

TEST_CASE("losses: gradients flow to the logits") {
  xp::ModelOutput out;
  out.logits = torch::randn({4, 3}).requires_grad_(true);
  auto batch = hard_batch({0, 1, 2, 1});
  for (const char* name : {"cross_entropy", "focal"}) {
    out.logits.mutable_grad() = torch::Tensor();
    make<xp::Loss>(name)->forward(out, batch).backward();
    REQUIRE(out.logits.grad().defined());
    CHECK(out.logits.grad().abs().sum().item<double>() > 0);
  }
}
