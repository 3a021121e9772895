#pragma once
// Samplers propose the parameters of the next trial from the search space and the trials so far.
// A proposal depends only on (sampler seed, trial number, history): re-running a sweep with the
// same seed and the same results proposes the same points.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "search_space.h"
#include "trial.h"

namespace xp::sweeps {

class Sampler {
 public:
  virtual ~Sampler() = default;
  // Parameters of trial `number`, or nullopt when the sampler has nothing left (a finished grid).
  virtual std::optional<ParamSet> propose(const std::vector<TrialRecord>& history, int64_t number) = 0;
  // How many distinct trials the sampler can propose at most (a grid's size), if bounded.
  virtual std::optional<uint64_t> capacity() const { return std::nullopt; }
};

struct TpeOptions {
  int64_t n_startup_trials = 10;  // random proposals before the model takes over
  int64_t n_ei_candidates = 24;   // draws from l(x) scored by l(x)/g(x)
  double prior_weight = 1.0;      // weight of the flat prior component in every estimator
  bool consider_pruned = true;    // pruned trials count as bad observations
};

struct SamplerOptions {
  std::string method = "tpe";  // grid | random | tpe
  uint64_t seed = 0;
  Direction direction = Direction::Minimize;
  TpeOptions tpe;
};

std::unique_ptr<Sampler> make_sampler(const SearchSpace& space, const SamplerOptions& options);
const std::vector<std::string>& sampler_methods();

}  // namespace xp::sweeps
