#pragma once
#include "sampler.h"

namespace xp::sweeps {

// Independent uniform draws (log-uniform for log dimensions), seeded by (seed, trial number) so a
// trial's point does not depend on which worker claimed it or when.
class RandomSampler : public Sampler {
 public:
  RandomSampler(SearchSpace space, uint64_t seed) : space_(std::move(space)), seed_(seed) {}
  std::optional<ParamSet> propose(const std::vector<TrialRecord>& history, int64_t number) override;

 private:
  SearchSpace space_;
  uint64_t seed_;
};

}  // namespace xp::sweeps
