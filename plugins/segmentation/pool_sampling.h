#pragma once
// Batches with a fixed positive:negative tile ratio, drawn with replacement from the positive and
// negative pools of a split (Split::label: 1 = the tile holds a positive pixel). Shared by the
// `balanced` and `curriculum` samplers.

#include <string>
#include <vector>

#include "xp/sampler.h"

namespace xp::seg {

struct Pools {
  std::vector<int64_t> positive, negative;
};

// Throws xp::ConfigError naming `who` when the split does not know its labels.
Pools label_pools(const Split& split, const std::string& who);

// `batches` batches of `batch_size` indices; every consecutive batch_size chunk holds
// round(pos_fraction * batch_size) positives (all of one pool when the other is empty), shuffled
// within the batch. A pure function of (seed, epoch, stream).
std::vector<int64_t> pooled_batches(const Pools& pools, double pos_fraction, int64_t batch_size, int64_t batches,
                                    uint64_t seed, int64_t epoch, uint64_t stream);

// Batches per epoch: `requested` if > 0, else one pass worth of the split (size / batch_size, >= 1).
int64_t batches_per_epoch(int64_t requested, size_t split_size, int64_t batch_size);

}  // namespace xp::seg
