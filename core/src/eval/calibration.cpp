#include "eval/calibration.h"

#include <cmath>

namespace xp {

namespace {

bool binary(const torch::Tensor& logits) { return logits.dim() == 1; }

// Flattens and drops invalid entries; multi-class keeps rows.
std::pair<torch::Tensor, torch::Tensor> select(const torch::Tensor& x, const torch::Tensor& y,
                                               const torch::Tensor& valid) {
  torch::Tensor xs = x, ys = y;
  if (x.dim() != 2) {
    xs = x.reshape({-1});
    ys = y.reshape({-1});
  }
  if (valid.defined()) {
    auto v = valid.reshape({-1}).to(torch::kBool);
    xs = xs.index({v});
    ys = ys.index({v});
  }
  return {xs.to(torch::kDouble), ys};
}

double nll(const torch::Tensor& logits, const torch::Tensor& targets, double t) {
  if (binary(logits))
    return torch::binary_cross_entropy_with_logits(logits / t, targets.to(torch::kDouble)).item<double>();
  return torch::nll_loss(torch::log_softmax(logits / t, 1), targets.to(torch::kLong)).item<double>();
}

double ece(const torch::Tensor& logits, const torch::Tensor& targets, int64_t bins) {
  torch::Tensor conf, correct;
  if (binary(logits)) {
    auto p = torch::sigmoid(logits);
    auto pred = p >= 0.5;
    conf = torch::where(pred, p, 1 - p);
    correct = (pred == (targets.to(torch::kDouble) >= 0.5)).to(torch::kDouble);
  } else {
    auto p = torch::softmax(logits, 1);
    auto mx = p.max(1);
    conf = std::get<0>(mx);
    correct = (std::get<1>(mx) == targets.to(torch::kLong)).to(torch::kDouble);
  }
  const double n = static_cast<double>(conf.numel());
  if (n == 0) return 0.0;
  auto idx = torch::clamp((conf * static_cast<double>(bins)).floor().to(torch::kLong), 0, bins - 1);
  auto count = torch::zeros({bins}, torch::kDouble).index_add_(0, idx, torch::ones_like(conf));
  auto conf_sum = torch::zeros({bins}, torch::kDouble).index_add_(0, idx, conf);
  auto acc_sum = torch::zeros({bins}, torch::kDouble).index_add_(0, idx, correct);
  return (conf_sum - acc_sum).abs().sum().item<double>() / n;
}

}  // namespace

ThresholdChoice best_f1_threshold(const torch::Tensor& probs, const torch::Tensor& targets,
                                  const torch::Tensor& valid) {
  auto [p, y] = select(probs, targets, valid);
  ThresholdChoice best;
  const int64_t n = p.numel();
  if (n == 0) return best;
  auto positive = (y.to(torch::kDouble) >= 0.5).to(torch::kDouble);
  const double total_pos = positive.sum().item<double>();
  if (total_pos == 0) return best;  // no positives: F1 is 0 at any threshold; keep 0.5
  auto order = std::get<1>(p.sort(0, /*descending=*/true));
  auto ps = p.index({order}).contiguous();
  auto tp = positive.index({order}).cumsum(0).contiguous();
  const double* pv = ps.data_ptr<double>();
  const double* tpv = tp.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) {
    // Only the last element of a run of equal probabilities is a realisable cut.
    if (i + 1 < n && pv[i + 1] == pv[i]) continue;
    const double predicted = static_cast<double>(i + 1), hit = tpv[i];
    const double precision = hit / predicted, recall = hit / total_pos;
    const double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
    if (f1 > best.f1) best = {pv[i], f1, precision, recall};
  }
  return best;
}

TemperatureFit fit_temperature(const torch::Tensor& logits_in, const torch::Tensor& targets_in,
                               const torch::Tensor& valid) {
  torch::NoGradGuard no_grad;
  auto [logits, targets] = select(logits_in, targets_in, valid);
  TemperatureFit fit;
  if (logits.numel() == 0) return fit;
  fit.nll_before = nll(logits, targets, 1.0);
  fit.ece_before = ece(logits, targets, 15);
  double lo = std::log(0.05), hi = std::log(20.0);
  const double g = (std::sqrt(5.0) - 1) / 2;
  double a = hi - g * (hi - lo), b = lo + g * (hi - lo);
  double fa = nll(logits, targets, std::exp(a)), fb = nll(logits, targets, std::exp(b));
  for (int it = 0; it < 60; ++it) {
    if (fa < fb) {
      hi = b; b = a; fb = fa;
      a = hi - g * (hi - lo);
      fa = nll(logits, targets, std::exp(a));
    } else {
      lo = a; a = b; fa = fb;
      b = lo + g * (hi - lo);
      fb = nll(logits, targets, std::exp(b));
    }
  }
  fit.temperature = std::exp((lo + hi) / 2);
  fit.nll_after = nll(logits, targets, fit.temperature);
  fit.ece_after = ece(logits / fit.temperature, targets, 15);
  return fit;
}

double expected_calibration_error(const torch::Tensor& logits, const torch::Tensor& targets, int64_t bins,
                                  const torch::Tensor& valid) {
  torch::NoGradGuard no_grad;
  auto [l, y] = select(logits, targets, valid);
  return ece(l, y, bins);
}

}  // namespace xp
