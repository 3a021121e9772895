// Binary segmentation losses against values computed by hand on tiny tensors.
#include <cmath>

#include "xp/plugin.h"
// After the torch headers: glog (pulled in by c10) defines its own CHECK.
#include <doctest/doctest.h>

namespace seg_test {
xp::Params params(const std::string& kind, const std::string& name, const xp::Value::Table& overrides = {});
xp::Value plugin_table(const std::string& kind, const std::string& name, const xp::Value::Table& overrides = {});
}  // namespace seg_test

namespace {

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
// -[t log p + (1 - t) log(1 - p)], p = sigmoid(x)
double bce(double x, double t) { return -(t * std::log(sigmoid(x)) + (1 - t) * std::log(1 - sigmoid(x))); }

std::shared_ptr<xp::Loss> make_loss(const std::string& name, const xp::Value::Table& overrides = {}) {
  return xp::create<xp::Loss>(seg_test::params("loss", name, overrides));
}

xp::Batch batch_of(const torch::Tensor& target) {
  xp::Batch b;
  b.target = target;
  b.input = torch::zeros({target.size(0), 3, target.size(2), target.size(3)});
  return b;
}

xp::ModelOutput output_of(const torch::Tensor& logits) {
  xp::ModelOutput o;
  o.logits = logits;
  return o;
}

// logits [[0, 2], [-1, 1]] against target [[1, 0], [0, ignore]]: three pixels count.
const std::vector<double> kX = {0.0, 2.0, -1.0};
const std::vector<double> kT = {1.0, 0.0, 0.0};
torch::Tensor tiny_logits() { return torch::tensor({0.0f, 2.0f, -1.0f, 1.0f}).reshape({1, 1, 2, 2}); }
torch::Tensor tiny_target() { return torch::tensor({1.0f, 0.0f, 0.0f, 255.0f}).reshape({1, 1, 2, 2}); }

double loss_value(const std::string& name, const xp::Value::Table& overrides = {}) {
  return make_loss(name, overrides)->forward(output_of(tiny_logits()), batch_of(tiny_target())).item<double>();
}

}  // namespace

TEST_CASE("seg losses: bce and binary_focal by hand, ignored pixel left out") {
  double expected = (bce(0, 1) + bce(2, 0) + bce(-1, 0)) / 3;
  CHECK(loss_value("bce") == doctest::Approx(expected).epsilon(1e-5));
  CHECK(expected == doctest::Approx(1.044446).epsilon(1e-5));
  double weighted = (3 * bce(0, 1) + bce(2, 0) + bce(-1, 0)) / 3;
  CHECK(loss_value("bce", {{"pos_weight", 3.0}}) == doctest::Approx(weighted).epsilon(1e-5));

  double focal = 0;
  for (size_t i = 0; i < 3; ++i) {
    double p = sigmoid(kX[i]), pt = kT[i] > 0 ? p : 1 - p, at = kT[i] > 0 ? 0.25 : 0.75;
    focal += at * std::pow(1 - pt, 2.0) * bce(kX[i], kT[i]);
  }
  CHECK(loss_value("binary_focal") == doctest::Approx(focal / 3).epsilon(1e-5));
  CHECK(focal / 3 == doctest::Approx(0.43263).epsilon(1e-4));
  // gamma 0 and no alpha weighting is plain BCE.
  CHECK(loss_value("binary_focal", {{"gamma", 0.0}, {"alpha", -1.0}}) == doctest::Approx(expected).epsilon(1e-5));
}

TEST_CASE("seg losses: dice, tversky, focal_tversky by hand") {
  double p0 = sigmoid(0), p1 = sigmoid(2), p2 = sigmoid(-1);
  double dice = 1 - (2 * p0 + 1) / (p0 + p1 + p2 + 1 + 1);
  CHECK(loss_value("dice") == doctest::Approx(dice).epsilon(1e-5));
  CHECK(dice == doctest::Approx(0.452022).epsilon(1e-4));

  double tp = p0, fn = 1 - p0, fp = p1 + p2;
  double tversky = 1 - (tp + 1) / (tp + 0.7 * fn + 0.3 * fp + 1);
  CHECK(loss_value("tversky") == doctest::Approx(tversky).epsilon(1e-5));
  CHECK(tversky == doctest::Approx(0.316604).epsilon(1e-4));
  // alpha weighs misses: raising it raises the loss here (one half-missed positive).
  double more_recall = 1 - (tp + 1) / (tp + 2.0 * fn + 0.3 * fp + 1);
  CHECK(loss_value("tversky", {{"alpha", 2.0}}) == doctest::Approx(more_recall).epsilon(1e-5));
  // alpha = beta = 0.5 is Dice with twice the smoothing term.
  CHECK(loss_value("tversky", {{"alpha", 0.5}, {"beta", 0.5}}) ==
        doctest::Approx(loss_value("dice", {{"smooth", 2.0}})).epsilon(1e-5));
  CHECK(loss_value("focal_tversky") == doctest::Approx(std::pow(tversky, 0.75)).epsilon(1e-5));
  CHECK(loss_value("focal_tversky", {{"gamma", 2.0}}) == doctest::Approx(tversky * tversky).epsilon(1e-5));
}

TEST_CASE("seg losses: class_balanced_bce weights by effective number") {
  // beta 0.5, counts [neg 3, pos 1]: E(3) = (1 - 0.125) / 0.5 = 1.75, E(1) = 1.
  double w_neg = 1 / 1.75, w_pos = 1.0, norm = 2 / (w_neg + w_pos);
  double expected = (norm * w_pos * bce(0, 1) + norm * w_neg * (bce(2, 0) + bce(-1, 0))) / 3;
  CHECK(loss_value("class_balanced_bce", {{"beta", 0.5}, {"counts", xp::Value::List{3.0, 1.0}}}) ==
        doctest::Approx(expected).epsilon(1e-5));
  // Counted in the batch: 2 negatives, 1 positive.
  w_neg = 1 / 1.5;
  norm = 2 / (w_neg + w_pos);
  expected = (norm * w_pos * bce(0, 1) + norm * w_neg * (bce(2, 0) + bce(-1, 0))) / 3;
  CHECK(loss_value("class_balanced_bce", {{"beta", 0.5}}) == doctest::Approx(expected).epsilon(1e-5));
  // beta 0: no re-weighting at all.
  CHECK(loss_value("class_balanced_bce", {{"beta", 0.0}}) == doctest::Approx(loss_value("bce")).epsilon(1e-6));
  CHECK_THROWS_AS(make_loss("class_balanced_bce", {{"counts", xp::Value::List{1.0}}}), xp::ConfigError);
}

TEST_CASE("seg losses: compound is the weighted sum of its terms") {
  auto focal = seg_test::plugin_table("loss", "binary_focal");
  auto dice = seg_test::plugin_table("loss", "dice");
  double expected = loss_value("binary_focal") + 2.0 * loss_value("dice");
  CHECK(loss_value("compound", {{"terms", xp::Value::List{focal, dice}}, {"weights", xp::Value::List{1.0, 2.0}}}) ==
        doctest::Approx(expected).epsilon(1e-5));
  CHECK_THROWS_WITH_AS(make_loss("compound", {{"terms", xp::Value::List{focal, dice}}, {"weights", xp::Value::List{1.0}}}),
                       doctest::Contains("1 weights for 2 terms"), xp::ConfigError);
  CHECK_THROWS_AS(make_loss("compound"), xp::ConfigError);
  auto odd = seg_test::plugin_table("loss", "dice", {{"ignore_index", int64_t{7}}});
  CHECK_THROWS_WITH_AS(make_loss("compound", {{"terms", xp::Value::List{odd}}}), doctest::Contains("ignore_index"),
                       xp::ConfigError);
}

TEST_CASE("seg losses: all-negative and all-ignored batches give finite values and gradients") {
  auto focal = seg_test::plugin_table("loss", "binary_focal");
  auto dice = seg_test::plugin_table("loss", "dice");
  std::vector<std::pair<std::string, xp::Value::Table>> losses = {
      {"bce", {{"pos_weight", 100.0}}},
      {"binary_focal", {{"gamma", 0.5}}},
      {"dice", {}},
      {"dice", {{"per_image", true}}},
      {"tversky", {}},
      {"focal_tversky", {}},
      {"class_balanced_bce", {}},
      {"bce", {{"boundary", "ignore"}}},
      {"dice", {{"boundary", "soft"}}},
      {"compound", {{"terms", xp::Value::List{focal, dice}}, {"boundary", "ignore"}}},
  };
  torch::manual_seed(0);
  auto negative = torch::zeros({2, 1, 8, 8});
  auto ignored = torch::full({2, 1, 8, 8}, 255.0f);
  auto perfect_positive = torch::ones({2, 1, 8, 8});
  for (const auto& [name, overrides] : losses)
    for (const auto& target : {negative, ignored, perfect_positive}) {
      auto logits = (torch::randn({2, 1, 8, 8}) * 20).requires_grad_(true);
      if (target.max().item<float>() == 1.0f) logits = torch::full({2, 1, 8, 8}, 40.0f).requires_grad_(true);
      auto loss = make_loss(name, overrides)->forward(output_of(logits), batch_of(target));
      INFO(name << " target max " << target.max().item<float>());
      REQUIRE(loss.dim() == 0);
      CHECK(std::isfinite(loss.item<double>()));
      loss.backward();
      CHECK(torch::isfinite(logits.grad()).all().item<bool>());
      if (target.min().item<float>() == 255.0f) CHECK(logits.grad().abs().sum().item<double>() == 0.0);
    }
}

TEST_CASE("seg losses: gradients push probabilities the right way") {
  auto target = torch::tensor({1.0f, 0.0f}).reshape({1, 1, 1, 2});
  for (std::string name : {"bce", "binary_focal", "dice", "tversky", "focal_tversky", "class_balanced_bce"}) {
    auto logits = torch::zeros({1, 1, 1, 2}).requires_grad_(true);
    make_loss(name)->forward(output_of(logits), batch_of(target)).backward();
    auto g = logits.grad().flatten();
    INFO(name);
    CHECK(g[0].item<float>() < 0);  // raise the positive's logit
    CHECK(g[1].item<float>() > 0);  // lower the negative's
  }
}

TEST_CASE("seg losses: boundary band on a hand-made mask") {
  // 7x7, a 3x3 square at rows/cols 2..4. With width 1 the band is the 5x5 ring around (3,3)
  // minus the centre: 16 negatives outside, 8 positives inside.
  auto target = torch::zeros({1, 1, 7, 7});
  target.slice(2, 2, 5).slice(3, 2, 5).fill_(1.0f);
  torch::manual_seed(3);
  auto logits = torch::randn({1, 1, 7, 7});
  auto in_band = [](int y, int x) { return y >= 1 && y <= 5 && x >= 1 && x <= 5 && !(y == 3 && x == 3); };

  double sum = 0;
  int count = 0;
  for (int y = 0; y < 7; ++y)
    for (int x = 0; x < 7; ++x)
      if (!in_band(y, x)) {
        sum += bce(logits[0][0][y][x].item<double>(), target[0][0][y][x].item<double>());
        ++count;
      }
  CHECK(count == 25);
  auto ignore = make_loss("bce", {{"boundary", "ignore"}});
  CHECK(ignore->forward(output_of(logits), batch_of(target)).item<double>() == doctest::Approx(sum / count).epsilon(1e-5));

  double soft_sum = 0;
  for (int y = 0; y < 7; ++y)
    for (int x = 0; x < 7; ++x) {
      double t = target[0][0][y][x].item<double>();
      if (in_band(y, x)) t = t > 0.5 ? 0.9 : 0.1;
      soft_sum += bce(logits[0][0][y][x].item<double>(), t);
    }
  auto soft = make_loss("bce", {{"boundary", "soft"}, {"soft_value", 0.1}});
  CHECK(soft->forward(output_of(logits), batch_of(target)).item<double>() == doctest::Approx(soft_sum / 49).epsilon(1e-5));

  // Width 2 takes the whole 3x3 square and a 2-pixel ring: every pixel of rows/cols 0..6 is within
  // 2 of the edge, so nothing is left.
  auto wide = make_loss("bce", {{"boundary", "ignore"}, {"boundary_width", int64_t{2}}});
  CHECK(wide->forward(output_of(logits), batch_of(target)).item<double>() == 0.0);

  // The image border is not an object edge: a full-positive tile has no band.
  auto full = torch::ones({1, 1, 7, 7});
  double full_sum = 0;
  for (int y = 0; y < 7; ++y)
    for (int x = 0; x < 7; ++x) full_sum += bce(logits[0][0][y][x].item<double>(), 1.0);
  CHECK(ignore->forward(output_of(logits), batch_of(full)).item<double>() == doctest::Approx(full_sum / 49).epsilon(1e-5));
}

TEST_CASE("seg losses: deep supervision adds the mean of the ds_* outputs") {
  auto logits = tiny_logits();
  xp::ModelOutput out = output_of(logits);
  out.aux["ds_1"] = torch::zeros_like(logits);
  out.aux["ds_2"] = torch::full_like(logits, 2.0);
  out.aux["features"] = torch::zeros({1, 8});  // not a ds_ output: left alone
  auto batch = batch_of(tiny_target());
  double main = loss_value("bce");
  double ds1 = (bce(0, 1) + 2 * bce(0, 0)) / 3, ds2 = (bce(2, 1) + 2 * bce(2, 0)) / 3;
  CHECK(make_loss("bce", {{"ds_weight", 0.5}})->forward(out, batch).item<double>() ==
        doctest::Approx(main + 0.5 * (ds1 + ds2) / 2).epsilon(1e-5));
  CHECK(make_loss("bce", {{"ds_weight", 0.0}})->forward(out, batch).item<double>() == doctest::Approx(main).epsilon(1e-6));
  // A low-resolution head is up-sampled to the target.
  out.aux = {{"ds_1", torch::zeros({1, 1, 1, 1})}};
  CHECK(make_loss("bce", {{"ds_weight", 1.0}})->forward(out, batch).item<double>() ==
        doctest::Approx(main + ds1).epsilon(1e-5));
  auto focal = seg_test::plugin_table("loss", "bce");
  CHECK(make_loss("compound", {{"terms", xp::Value::List{focal}}, {"ds_weight", 1.0}})->forward(out, batch).item<double>() ==
        doctest::Approx(main + ds1).epsilon(1e-5));
}

TEST_CASE("seg losses: wrong logits shape is a clear error") {
  auto logits = torch::zeros({1, 3, 2, 2});
  CHECK_THROWS_WITH_AS(make_loss("dice")->forward(output_of(logits), batch_of(tiny_target())),
                       doctest::Contains("out_channels = 1"), xp::ConfigError);
}
