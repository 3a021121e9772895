#include "parzen_estimator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace xp::sweeps {

namespace {

constexpr double kInvSqrt2 = 0.7071067811865476;
constexpr double kLogSqrt2Pi = 0.9189385332046727;
constexpr double kNegInf = -std::numeric_limits<double>::infinity();

double normal_cdf(double z) { return 0.5 * std::erfc(-z * kInvSqrt2); }

// log(Phi(zb) - Phi(za)) without cancellation in either tail.
double log_normal_interval(double za, double zb) {
  if (za > 0) {  // upper tail: use the survival function
    double p = 0.5 * std::erfc(za * kInvSqrt2) - 0.5 * std::erfc(zb * kInvSqrt2);
    return p > 0 ? std::log(p) : kNegInf;
  }
  double p = normal_cdf(zb) - normal_cdf(za);
  return p > 0 ? std::log(p) : kNegInf;
}

double log_sum_exp(const std::vector<double>& v) {
  double m = *std::max_element(v.begin(), v.end());
  if (m == kNegInf) return kNegInf;
  double s = 0;
  for (double x : v) s += std::exp(x - m);
  return m + std::log(s);
}

size_t draw_index(Rng& rng, const std::vector<double>& probs) {
  double u = rng.uniform(), acc = 0;
  for (size_t i = 0; i < probs.size(); ++i) {
    acc += probs[i];
    if (u < acc) return i;
  }
  return probs.size() - 1;
}

}  // namespace

std::vector<double> tpe_observation_weights(size_t n) {
  constexpr size_t kFlat = 25;
  std::vector<double> w(n, 1.0);
  if (n <= kFlat) return w;
  const size_t ramp = n - kFlat;
  for (size_t i = 0; i < ramp; ++i)
    w[i] = ramp == 1 ? 1.0 / static_cast<double>(n)
                     : 1.0 / static_cast<double>(n) +
                           (1.0 - 1.0 / static_cast<double>(n)) * static_cast<double>(i) / static_cast<double>(ramp - 1);
  return w;
}

NumericParzenEstimator::NumericParzenEstimator(const std::vector<double>& observations,
                                               const std::vector<double>& weights, double low, double high,
                                               double prior_weight)
    : low_(low), high_(high) {
  const double range = high - low;
  const double prior_mu = 0.5 * (low + high);
  // Observations plus the prior, sorted, remembering which one is the prior.
  std::vector<std::pair<double, double>> points;  // (mu, weight)
  for (size_t i = 0; i < observations.size(); ++i) points.emplace_back(observations[i], weights[i]);
  points.emplace_back(prior_mu, prior_weight);
  const size_t prior_index = points.size() - 1;
  std::vector<size_t> order(points.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return points[a].first < points[b].first; });

  const size_t n = order.size();
  std::vector<double> sorted_sigma(n, range);
  if (n >= 2) {
    for (size_t r = 0; r < n; ++r) {
      double mu = points[order[r]].first;
      double left = r == 0 ? mu - low : mu - points[order[r - 1]].first;
      double right = r + 1 == n ? high - mu : points[order[r + 1]].first - mu;
      sorted_sigma[r] = std::max(left, right);
    }
    // Endpoints are not neighbours: the outermost kernels use their one inner gap.
    sorted_sigma[0] = points[order[1]].first - points[order[0]].first;
    sorted_sigma[n - 1] = points[order[n - 1]].first - points[order[n - 2]].first;
  }
  const double max_sigma = range;
  const double min_sigma = range / std::min(100.0, 1.0 + static_cast<double>(n));
  double total = 0;
  for (size_t r = 0; r < n; ++r) {
    size_t i = order[r];
    double sigma = i == prior_index ? range : sorted_sigma[r];
    mus_.push_back(points[i].first);
    sigmas_.push_back(std::clamp(sigma, min_sigma, max_sigma));
    weights_.push_back(points[i].second);
    total += points[i].second;
  }
  for (size_t k = 0; k < mus_.size(); ++k) {
    weights_[k] /= total;
    log_norm_.push_back(log_normal_interval((low_ - mus_[k]) / sigmas_[k], (high_ - mus_[k]) / sigmas_[k]));
  }
}

double NumericParzenEstimator::sample(Rng& rng) const {
  size_t k = draw_index(rng, weights_);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    double x = rng.normal(mus_[k], sigmas_[k]);
    if (x >= low_ && x <= high_) return x;
  }
  return std::clamp(mus_[k], low_, high_);
}

double NumericParzenEstimator::log_pdf(double x) const {
  std::vector<double> terms;
  for (size_t k = 0; k < mus_.size(); ++k) {
    double z = (x - mus_[k]) / sigmas_[k];
    terms.push_back(std::log(weights_[k]) - 0.5 * z * z - kLogSqrt2Pi - std::log(sigmas_[k]) - log_norm_[k]);
  }
  return log_sum_exp(terms);
}

double NumericParzenEstimator::log_mass(double a, double b) const {
  a = std::max(a, low_);
  b = std::min(b, high_);
  std::vector<double> terms;
  for (size_t k = 0; k < mus_.size(); ++k)
    terms.push_back(std::log(weights_[k]) +
                    log_normal_interval((a - mus_[k]) / sigmas_[k], (b - mus_[k]) / sigmas_[k]) - log_norm_[k]);
  return log_sum_exp(terms);
}

CategoricalParzenEstimator::CategoricalParzenEstimator(const std::vector<size_t>& observations,
                                                       const std::vector<double>& weights, size_t n_choices,
                                                       double prior_weight)
    : probs_(n_choices, prior_weight / static_cast<double>(n_choices)) {
  for (size_t i = 0; i < observations.size(); ++i) probs_[observations[i]] += weights[i];
  double total = std::accumulate(probs_.begin(), probs_.end(), 0.0);
  for (double& p : probs_) p /= total;
}

size_t CategoricalParzenEstimator::sample(Rng& rng) const { return draw_index(rng, probs_); }

double CategoricalParzenEstimator::log_pmf(size_t k) const { return std::log(probs_[k]); }

}  // namespace xp::sweeps
