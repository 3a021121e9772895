// EMA of weights, early stopping, threshold and temperature calibration, TTA.
#include <doctest/doctest.h>
#include <torch/torch.h>

#include "eval/calibration.h"
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
