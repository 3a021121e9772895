// EMA of weights, early stopping, threshold and temperature calibration, TTA.
#include <doctest/doctest.h>
#include <torch/torch.h>

#include "eval/calibration.h"
#include "eval/reliability_diagram.h"
#include "eval/tta.h"
#include "training/early_stopping.h"
#include "training/weight_ema.h"
#include "xp/errors.h"

TEST_CASE("ema: follows the weights with the warm-up decay and swaps in and out") {
  torch::nn::Linear lin(2, 1);
  torch::NoGradGuard g;
  lin->weight.fill_(0.0);
  lin->bias.fill_(0.0);
  xp::WeightEma ema(*lin, 0.5);
  lin->weight.fill_(1.0);
  lin->bias.fill_(1.0);
  ema.update(*lin);  // n = 1: d = min(0.5, 2/11) = 2/11
  const double d = 2.0 / 11.0;
  CHECK(ema.state().at("p:weight")[0][0].item<double>() == doctest::Approx(1.0 - d));
  ema.swap(*lin);
  CHECK(lin->weight[0][0].item<double>() == doctest::Approx(1.0 - d));
  ema.swap(*lin);
  CHECK(lin->weight[0][0].item<double>() == doctest::Approx(1.0));
  for (int i = 0; i < 200; ++i) ema.update(*lin);  // decay caps at 0.5: converges to the weights
  CHECK(ema.state().at("p:weight")[0][0].item<double>() == doctest::Approx(1.0).epsilon(1e-6));
}

TEST_CASE("early stopping: patience, min_delta, start epoch, window, save/load") {
  xp::EarlyStopping es({/*maximize=*/true, /*patience=*/2, /*min_delta=*/0.01, /*start_epoch=*/1, /*window=*/1});
  CHECK_FALSE(es.update(0, 0.9));    // before start_epoch: ignored
  CHECK_FALSE(es.update(1, 0.5));    // first counted value is the best
  CHECK_FALSE(es.update(2, 0.505));  // below min_delta: a bad epoch
  auto saved = es.save();
  CHECK(es.update(3, 0.4));          // second bad epoch: stop
  CHECK(es.best_epoch() == 1);
  xp::EarlyStopping resumed({true, 2, 0.01, 1, 1});
  resumed.load(saved);
  CHECK(resumed.bad_epochs() == 1);
  CHECK(resumed.update(3, 0.4));

  xp::EarlyStopping smooth({false, 1, 0.0, 0, 2});  // minimise a 2-epoch moving average
  CHECK_FALSE(smooth.update(0, 1.0));  // avg 1.0
  CHECK_FALSE(smooth.update(1, 0.0));  // avg 0.5: better
  CHECK(smooth.update(2, 2.0));        // avg 1.0: worse -> stop (patience 1)
}

TEST_CASE("threshold calibration picks the F1-optimal cut, matching brute force") {
  torch::manual_seed(0);
  auto y = (torch::rand({400}) < 0.1).to(torch::kFloat);
  auto p = torch::clamp(0.3 * y + 0.7 * torch::rand({400}), 0, 1);
  auto got = xp::best_f1_threshold(p, y);
  double best = 0;
  for (int64_t i = 0; i < p.numel(); ++i) {
    double t = p[i].item<double>();
    auto pred = (p >= t).to(torch::kDouble);
    double tp = (pred * y).sum().item<double>(), fp = (pred * (1 - y)).sum().item<double>();
    double fn = ((1 - pred) * y).sum().item<double>();
    best = std::max(best, 2 * tp / (2 * tp + fp + fn));
  }
  CHECK(got.f1 == doctest::Approx(best));
  auto pred = (p >= got.threshold).to(torch::kDouble);
  double tp = (pred * y).sum().item<double>(), fp = (pred * (1 - y)).sum().item<double>();
  CHECK(got.precision == doctest::Approx(tp / (tp + fp)));
  // Ignored entries do not count.
  auto valid = torch::ones({400}, torch::kBool);
  valid.index_put_({torch::indexing::Slice(0, 200)}, false);
  auto half = xp::best_f1_threshold(p, y, valid);
  auto ref = xp::best_f1_threshold(p.slice(0, 200), y.slice(0, 200));
  CHECK(half.f1 == doctest::Approx(ref.f1));
}

TEST_CASE("temperature scaling recovers the temperature of over-confident logits") {
  torch::manual_seed(1);
  const int64_t n = 20000;
  auto z = torch::randn({n}, torch::kDouble) * 2;           // calibrated logits
  auto y = (torch::rand({n}, torch::kDouble) < torch::sigmoid(z)).to(torch::kDouble);
  auto fit = xp::fit_temperature(z * 3.0, y);               // 3x over-confident
  CHECK(fit.temperature == doctest::Approx(3.0).epsilon(0.1));
  CHECK(fit.nll_after < fit.nll_before);
  CHECK(fit.ece_after < fit.ece_before);
  // Multi-class form.
  auto logits = torch::randn({5000, 4}, torch::kDouble) * 2;
  auto labels = torch::multinomial(torch::softmax(logits, 1), 1).squeeze(1);
  auto mc = xp::fit_temperature(logits * 0.5, labels);     // under-confident: T < 1
  CHECK(mc.temperature == doctest::Approx(0.5).epsilon(0.15));
}

TEST_CASE("reliability diagram: bins, observed rates and shares, binary and multi-class") {
  // Binary, hand-checked: p = 0.05, 0.15, 0.15, 0.95 (logits of those), one ignored pixel (255).
  auto logit = [](double p) { return std::log(p / (1 - p)); };
  auto z = torch::tensor({logit(0.05), logit(0.15), logit(0.15), logit(0.95), logit(0.95)}, torch::kDouble).reshape({1, 1, 5});
  auto y = torch::tensor({0, 1, 0, 1, 255}, torch::kLong).reshape({1, 5});
  xp::ReliabilityDiagram d(10);
  d.add(z.slice(2, 0, 2), y.slice(1, 0, 2));  // batch by batch equals all at once
  d.add(z.slice(2, 2, 5), y.slice(1, 2, 5));
  auto v = d.values("test");
  CHECK(d.entries() == 4);
  CHECK(v.size() == 9);  // bins 0, 1, 9 (the others had no entries)
  CHECK(v.at("test_reliability_0_conf") == doctest::Approx(0.05));
  CHECK(v.at("test_reliability_0_freq") == 0.0);
  CHECK(v.at("test_reliability_1_conf") == doctest::Approx(0.15));
  CHECK(v.at("test_reliability_1_freq") == doctest::Approx(0.5));
  CHECK(v.at("test_reliability_1_share") == doctest::Approx(0.5));
  CHECK(v.at("test_reliability_9_freq") == 1.0);
  CHECK(v.count("test_reliability_5_conf") == 0);

  // Calibrated by construction: each bin's observed rate is close to its mean probability.
  torch::manual_seed(3);
  auto logits = torch::randn({20000}, torch::kDouble) * 2;
  auto labels = (torch::rand({20000}, torch::kDouble) < torch::sigmoid(logits)).to(torch::kLong);
  xp::ReliabilityDiagram calibrated;
  calibrated.add(logits, labels);
  auto c = calibrated.values("x");
  for (int b = 0; b < 10; ++b)
    if (c.count("x_reliability_" + std::to_string(b) + "_conf") && c.at("x_reliability_" + std::to_string(b) + "_share") > 0.02)
      CHECK(c.at("x_reliability_" + std::to_string(b) + "_freq") ==
            doctest::Approx(c.at("x_reliability_" + std::to_string(b) + "_conf")).epsilon(0.05));

  // Multi-class segmentation [N, K, H, W]: top-class probability against accuracy.
  auto mc = torch::zeros({1, 3, 1, 2}, torch::kDouble);
  mc[0][0][0][0] = 5;  // pixel 0: class 0, p ~ 0.987, right
  mc[0][2][0][1] = 5;  // pixel 1: class 2, p ~ 0.987, wrong (truth 1)
  xp::ReliabilityDiagram m;
  m.add(mc, torch::tensor({0, 1}, torch::kLong).reshape({1, 1, 2}));
  auto mv = m.values("val");
  CHECK(mv.at("val_reliability_9_freq") == doctest::Approx(0.5));
  CHECK(mv.at("val_reliability_9_share") == 1.0);
}

namespace {
struct Echo : xp::Model {
  xp::ModelOutput forward(const torch::Tensor& x) override { return {x.narrow(1, 0, 1), {}}; }
};
}  // namespace

TEST_CASE("segmentation TTA maps flipped predictions back") {
  Echo m;
  auto x = torch::randn({2, 3, 5, 7});
  auto plain = xp::predict_probabilities(m, x, xp::Task::Segmentation, "none");
  auto flips = xp::predict_probabilities(m, x, xp::Task::Segmentation, "flips");
  // The identity model is equivariant: de-augmented views agree exactly.
  CHECK(torch::allclose(plain, flips, 1e-6, 1e-6));
  CHECK_THROWS_AS(xp::check_tta_mode("flip"), xp::ConfigError);
  CHECK_THROWS_WITH(xp::check_tta_mode("flip"), doctest::Contains("did you mean"));
}
