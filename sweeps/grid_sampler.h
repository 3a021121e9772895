#pragma once
#include "sampler.h"

namespace xp::sweeps {

// Trial i takes the i-th point of the grid; the product of the dimensions is never materialised.
class GridSampler : public Sampler {
 public:
  explicit GridSampler(SearchSpace space) : space_(std::move(space)), size_(space_.grid_size()) {}
  std::optional<ParamSet> propose(const std::vector<TrialRecord>& history, int64_t number) override;
  std::optional<uint64_t> capacity() const override { return size_; }

 private:
  SearchSpace space_;
  uint64_t size_;
};

}  // namespace xp::sweeps
