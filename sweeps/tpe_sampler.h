#pragma once
#include "sampler.h"

namespace xp::sweeps {

// Tree-structured Parzen Estimator, independent per dimension (Optuna's default TPESampler):
// finished trials are split into the best gamma(n) = min(ceil(0.1 n), 25) ("below", l(x)) and the
// rest ("above", g(x)); n_ei_candidates points drawn from l(x) are scored by log l(x) - log g(x)
// and the best one is proposed. Before n_startup_trials finished trials it samples at random.
class TpeSampler : public Sampler {
 public:
  TpeSampler(SearchSpace space, uint64_t seed, Direction direction, TpeOptions options = {})
      : space_(std::move(space)), seed_(seed), direction_(direction), options_(options) {}
  std::optional<ParamSet> propose(const std::vector<TrialRecord>& history, int64_t number) override;

  static size_t n_below(size_t n_observations);

 private:
  Value propose_dimension(const Dimension& d, const std::vector<const TrialRecord*>& below,
                          const std::vector<const TrialRecord*>& above, Rng& rng) const;

  SearchSpace space_;
  uint64_t seed_;
  Direction direction_;
  TpeOptions options_;
};

}  // namespace xp::sweeps
