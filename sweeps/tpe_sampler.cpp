#include "tpe_sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "parzen_estimator.h"

namespace xp::sweeps {

size_t TpeSampler::n_below(size_t n) {
  return std::min<size_t>(static_cast<size_t>(std::ceil(0.1 * static_cast<double>(n))), 25);
}

namespace {

// Completed trials rank by objective; pruned ones after every completed trial, those that got
// further first, then by their last value (Optuna's ordering of pruned trials).
struct Ranked {
  const TrialRecord* trial;
  int group;       // 0 complete, 1 pruned
  int64_t reach;   // last epoch reported (pruned)
  double score;    // lower is better
};

std::vector<const TrialRecord*> in_trial_order(std::vector<const TrialRecord*> v) {
  std::sort(v.begin(), v.end(), [](const TrialRecord* a, const TrialRecord* b) { return a->number < b->number; });
  return v;
}

}  // namespace

std::optional<ParamSet> TpeSampler::propose(const std::vector<TrialRecord>& history, int64_t number) {
  Rng rng(Rng::mix(seed_, static_cast<uint64_t>(number), 0x545045u));
  const double sign = direction_ == Direction::Maximize ? -1.0 : 1.0;
  std::vector<Ranked> ranked;
  for (const auto& t : history) {
    if (t.state == TrialState::Complete && t.value && std::isfinite(*t.value)) {
      ranked.push_back({&t, 0, 0, sign * *t.value});
    } else if (options_.consider_pruned && t.state == TrialState::Pruned && !t.intermediate.empty()) {
      auto last = std::prev(t.intermediate.end());
      double v = std::isfinite(last->second) ? sign * last->second : std::numeric_limits<double>::infinity();
      ranked.push_back({&t, 1, last->first, v});
    }
  }
  if (static_cast<int64_t>(ranked.size()) < options_.n_startup_trials) return space_.sample(rng);

  std::stable_sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) {
    if (a.group != b.group) return a.group < b.group;
    if (a.reach != b.reach) return a.reach > b.reach;
    if (a.score != b.score) return a.score < b.score;
    return a.trial->number < b.trial->number;
  });
  const size_t split = n_below(ranked.size());
  std::vector<const TrialRecord*> below, above;
  for (size_t i = 0; i < ranked.size(); ++i) (i < split ? below : above).push_back(ranked[i].trial);
  below = in_trial_order(below);
  above = in_trial_order(above);

  ParamSet out;
  for (const auto& d : space_.dimensions()) out[d.key] = propose_dimension(d, below, above, rng);
  return out;
}

Value TpeSampler::propose_dimension(const Dimension& d, const std::vector<const TrialRecord*>& below,
                                    const std::vector<const TrialRecord*>& above, Rng& rng) const {
  // Observations of this dimension that still lie in the space (a resumed sweep may have changed it).
  auto observed = [&](const std::vector<const TrialRecord*>& group) {
    std::vector<Value> values;
    for (const auto* t : group) {
      auto it = t->params.find(d.key);
      if (it != t->params.end() && d.contains(it->second)) values.push_back(it->second);
    }
    return values;
  };
  const auto below_values = observed(below), above_values = observed(above);
  const auto n_candidates = static_cast<size_t>(std::max<int64_t>(1, options_.n_ei_candidates));

  if (d.is_categorical()) {
    auto indices = [&](const std::vector<Value>& values) {
      std::vector<size_t> out;
      for (const auto& v : values)
        out.push_back(static_cast<size_t>(std::find(d.values.begin(), d.values.end(), v) - d.values.begin()));
      return out;
    };
    CategoricalParzenEstimator l(indices(below_values), tpe_observation_weights(below_values.size()), d.values.size(),
                                 options_.prior_weight);
    CategoricalParzenEstimator g(indices(above_values), tpe_observation_weights(above_values.size()), d.values.size(),
                                 options_.prior_weight);
    size_t best = 0;
    double best_score = -std::numeric_limits<double>::infinity();
    for (size_t c = 0; c < n_candidates; ++c) {
      size_t k = l.sample(rng);
      double score = l.log_pmf(k) - g.log_pmf(k);
      if (score > best_score) best_score = score, best = k;
    }
    return d.values[best];
  }

  auto internal = [&](const std::vector<Value>& values) {
    std::vector<double> out;
    for (const auto& v : values) out.push_back(d.to_internal(v));
    return out;
  };
  const double lo = d.internal_low(), hi = d.internal_high();
  NumericParzenEstimator l(internal(below_values), tpe_observation_weights(below_values.size()), lo, hi,
                           options_.prior_weight);
  NumericParzenEstimator g(internal(above_values), tpe_observation_weights(above_values.size()), lo, hi,
                           options_.prior_weight);
  Value best;
  double best_score = -std::numeric_limits<double>::infinity();
  for (size_t c = 0; c < n_candidates; ++c) {
    double x = l.sample(rng);
    Value v = d.from_internal(x);
    double score;
    if (d.is_int()) {
      // An integer owns the cell of half a step either side of it; compare probability masses.
      double center = static_cast<double>(v.as_int()), half = 0.5 * static_cast<double>(d.step);
      double a = center - half, b = center + half;
      if (d.is_log()) a = std::log(std::max(a, 1e-12)), b = std::log(b);
      score = l.log_mass(a, b) - g.log_mass(a, b);
    } else {
      score = l.log_pdf(x) - g.log_pdf(x);
    }
    if (best.is_none() || score > best_score) best_score = score, best = v;
  }
  return best;
}

}  // namespace xp::sweeps
