#include "random_sampler.h"

namespace xp::sweeps {

std::optional<ParamSet> RandomSampler::propose(const std::vector<TrialRecord>&, int64_t number) {
  Rng rng(Rng::mix(seed_, static_cast<uint64_t>(number), 0x52414e44u));
  return space_.sample(rng);
}

}  // namespace xp::sweeps
