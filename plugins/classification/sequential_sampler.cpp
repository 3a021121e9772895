// The split in its own order: evaluation, debugging, and reproducing a loader bug by index.
#include <xp/plugin.h>

#include <numeric>

namespace {

class SequentialSampler : public xp::Sampler {
 public:
  static xp::Schema schema() { return xp::Schema("Visits the split in order 0, 1, ..., n-1"); }
  explicit SequentialSampler(const xp::Params&) {}

  std::vector<int64_t> indices(const xp::SamplerContext& context) const override {
    if (!context.split) throw std::invalid_argument("sequential sampler: no split given");
    std::vector<int64_t> out(context.split->size());
    std::iota(out.begin(), out.end(), 0);
    return out;
  }
};

}  // namespace

XP_REGISTER_SAMPLER("sequential", SequentialSampler);
