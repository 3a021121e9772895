#include "grid_sampler.h"

namespace xp::sweeps {

std::optional<ParamSet> GridSampler::propose(const std::vector<TrialRecord>&, int64_t number) {
  if (number < 0 || static_cast<uint64_t>(number) >= size_) return std::nullopt;
  return space_.grid_point(static_cast<uint64_t>(number));
}

}  // namespace xp::sweeps
