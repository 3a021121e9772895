#pragma once
// The density models of TPE (Bergstra et al. 2011, as Optuna implements them): a mixture of
// truncated Gaussians for numeric parameters and smoothed category frequencies for choices.

#include <cstdint>
#include <vector>

#include "xp/rng.h"

namespace xp::sweeps {

// Optuna's default observation weights: recent observations weigh 1, the oldest of a long history
// ramp down linearly, so the model follows the sampler's own drift. `n` observations in trial order.
std::vector<double> tpe_observation_weights(size_t n);

// Mixture of Gaussians truncated to [low, high], one per observation plus a flat-ish prior centred
// on the interval. Each bandwidth is the larger gap to a neighbouring observation (endpoints use
// their one neighbour), clipped to [(high-low)/min(100, n+1), high-low]: dense regions get narrow
// kernels, isolated points wide ones.
class NumericParzenEstimator {
 public:
  NumericParzenEstimator(const std::vector<double>& observations, const std::vector<double>& weights, double low,
                         double high, double prior_weight);
  double sample(Rng& rng) const;
  double log_pdf(double x) const;
  // log P(a <= X <= b), for integers whose cell is [a, b].
  double log_mass(double a, double b) const;

  const std::vector<double>& mus() const { return mus_; }
  const std::vector<double>& sigmas() const { return sigmas_; }
  const std::vector<double>& weights() const { return weights_; }

 private:
  double low_, high_;
  std::vector<double> mus_, sigmas_, weights_, log_norm_;  // log_norm_: log of each kernel's mass in range
};

// P(category k) proportional to prior_weight / K + the summed weights of observations equal to k.
class CategoricalParzenEstimator {
 public:
  CategoricalParzenEstimator(const std::vector<size_t>& observations, const std::vector<double>& weights,
                             size_t n_choices, double prior_weight);
  size_t sample(Rng& rng) const;
  double log_pmf(size_t k) const;
  const std::vector<double>& probabilities() const { return probs_; }

 private:
  std::vector<double> probs_;
};

}  // namespace xp::sweeps
