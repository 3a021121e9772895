// `balanced`: every batch holds a fixed share of tiles with positive pixels.
#include "pool_sampling.h"
#include "xp/plugin.h"

namespace xp::seg {
namespace {

class BalancedSampler : public Sampler {
 public:
  static Schema schema() {
    return Schema("Batches with a fixed share of positive tiles, drawn with replacement from the positive and "
                  "negative pools (Split::label)")
        .add_float("pos_fraction", 0.5, "share of positive tiles in every batch").range(0.0, 1.0)
        .add_int("batches", 0, "batches per epoch (0 = split size / batch size)").min(0);
  }
  explicit BalancedSampler(const Params& p) : pos_fraction_(p.get_float("pos_fraction")), batches_(p.get_int("batches")) {}

  std::vector<int64_t> indices(const SamplerContext& c) const override {
    if (!c.split) throw ConfigError("balanced sampler: no split given");
    Pools pools = label_pools(*c.split, "balanced");
    return pooled_batches(pools, pos_fraction_, c.batch_size, batches_per_epoch(batches_, c.split->size(), c.batch_size),
                          c.seed, c.epoch, 0xba1a);
  }

 private:
  double pos_fraction_;
  int64_t batches_;
};

}  // namespace
}  // namespace xp::seg

XP_REGISTER_SAMPLER("balanced", xp::seg::BalancedSampler);
