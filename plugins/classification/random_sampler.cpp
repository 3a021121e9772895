// A fresh permutation of the split every epoch, drawn from (seed, epoch) alone so that a resumed
// run, or any number of loader workers, sees the same order.
#include <xp/plugin.h>

#include <numeric>

namespace {

class RandomSampler : public xp::Sampler {
 public:
  static xp::Schema schema() {
    return xp::Schema("Shuffles the split each epoch (permutation seeded by seed and epoch)")
        .add_int("num_samples", 0, "samples per epoch (0 = split size; more repeats further permutations)").min(0);
  }
  explicit RandomSampler(const xp::Params& p) : num_samples_(p.get_int("num_samples")) {}

  std::vector<int64_t> indices(const xp::SamplerContext& context) const override {
    if (!context.split) throw std::invalid_argument("random sampler: no split given");
    const int64_t n = static_cast<int64_t>(context.split->size());
    const int64_t wanted = num_samples_ > 0 ? num_samples_ : n;
    std::vector<int64_t> out;
    out.reserve(wanted);
    xp::Rng rng(xp::Rng::mix(context.seed, static_cast<uint64_t>(context.epoch)));
    std::vector<int64_t> perm(n);
    while (n > 0 && static_cast<int64_t>(out.size()) < wanted) {
      std::iota(perm.begin(), perm.end(), 0);
      for (int64_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[rng.integer(0, i)]);  // Fisher-Yates
      for (int64_t i = 0; i < n && static_cast<int64_t>(out.size()) < wanted; ++i) out.push_back(perm[i]);
    }
    return out;
  }

 private:
  int64_t num_samples_;
};

}  // namespace

XP_REGISTER_SAMPLER("random", RandomSampler);
