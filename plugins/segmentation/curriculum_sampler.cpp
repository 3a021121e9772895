// `curriculum`: the positive:negative tile ratio moves towards the natural imbalance over epochs,
// e.g. ratios = [1, 3, 10] at epochs = [0, 5, 10]: 1:1 first, then 1:3, then 1:10.
#include "pool_sampling.h"
#include "xp/plugin.h"

namespace xp::seg {
namespace {

class CurriculumSampler : public Sampler {
 public:
  static Schema schema() {
    return Schema("Balanced batches whose positive:negative tile ratio 1:r follows a schedule over epochs")
        .add_floats("ratios", {1.0, 3.0, 10.0}, "negatives per positive (r of 1:r) from each change point on")
        .min(0.0)
        .add_ints("epochs", {0, 5, 10}, "epochs at which each ratio starts (increasing, first = 0)").min(0)
        .add_int("batches", 0, "batches per epoch (0 = split size / batch size)").min(0);
  }

  explicit CurriculumSampler(const Params& p)
      : ratios_(p.get_floats("ratios")), epochs_(p.get_ints("epochs")), batches_(p.get_int("batches")) {
    if (ratios_.empty() || ratios_.size() != epochs_.size())
      throw ConfigError("curriculum: ratios and epochs need the same, non-zero length (got " +
                            std::to_string(ratios_.size()) + " and " + std::to_string(epochs_.size()) + ")",
                        p.where());
    if (epochs_.front() != 0) throw ConfigError("curriculum: epochs must start at 0", p.where());
    for (size_t i = 1; i < epochs_.size(); ++i)
      if (epochs_[i] <= epochs_[i - 1])
        throw ConfigError("curriculum: epochs must increase (" + std::to_string(epochs_[i - 1]) + " then " +
                              std::to_string(epochs_[i]) + ")",
                          p.where());
  }

  // The share of positives at `epoch`: 1 / (1 + r) of the last change point reached.
  double pos_fraction(int64_t epoch) const {
    size_t k = 0;
    while (k + 1 < epochs_.size() && epochs_[k + 1] <= epoch) ++k;
    return 1.0 / (1.0 + ratios_[k]);
  }

  std::vector<int64_t> indices(const SamplerContext& c) const override {
    if (!c.split) throw ConfigError("curriculum sampler: no split given");
    Pools pools = label_pools(*c.split, "curriculum");
    return pooled_batches(pools, pos_fraction(c.epoch), c.batch_size,
                          batches_per_epoch(batches_, c.split->size(), c.batch_size), c.seed, c.epoch, 0xc0de);
  }

 private:
  std::vector<double> ratios_;
  std::vector<int64_t> epochs_;
  int64_t batches_;
};

}  // namespace
}  // namespace xp::seg

XP_REGISTER_SAMPLER("curriculum", xp::seg::CurriculumSampler);
