#include "pool_sampling.h"

#include <algorithm>
#include <cmath>

#include "xp/errors.h"
#include "xp/rng.h"

namespace xp::seg {

Pools label_pools(const Split& split, const std::string& who) {
  Pools pools;
  size_t unknown = 0;
  for (size_t i = 0; i < split.size(); ++i) {
    int64_t label = split.label(i);
    if (label > 0) pools.positive.push_back(static_cast<int64_t>(i));
    else if (label == 0) pools.negative.push_back(static_cast<int64_t>(i));
    else ++unknown;
  }
  if (unknown == split.size() && unknown > 0)
    throw ConfigError(who + " sampler needs per-tile labels (Split::label), which this dataset does not provide");
  return pools;
}

std::vector<int64_t> pooled_batches(const Pools& pools, double pos_fraction, int64_t batch_size, int64_t batches,
                                    uint64_t seed, int64_t epoch, uint64_t stream) {
  std::vector<int64_t> out;
  if (pools.positive.empty() && pools.negative.empty()) return out;
  Rng rng(Rng::mix(seed, static_cast<uint64_t>(epoch), stream, 0x9001));
  int64_t n_pos = std::llround(pos_fraction * static_cast<double>(batch_size));
  if (pools.negative.empty()) n_pos = batch_size;
  if (pools.positive.empty()) n_pos = 0;
  out.reserve(static_cast<size_t>(batches * batch_size));
  std::vector<int64_t> batch(static_cast<size_t>(batch_size));
  auto draw = [&](const std::vector<int64_t>& pool) {
    return pool[static_cast<size_t>(rng.integer(0, static_cast<int64_t>(pool.size()) - 1))];
  };
  for (int64_t b = 0; b < batches; ++b) {
    for (int64_t i = 0; i < batch_size; ++i) batch[i] = i < n_pos ? draw(pools.positive) : draw(pools.negative);
    // Fisher-Yates with our Rng: std::shuffle's algorithm differs between standard libraries.
    for (int64_t i = batch_size - 1; i > 0; --i) std::swap(batch[i], batch[rng.integer(0, i)]);
    out.insert(out.end(), batch.begin(), batch.end());
  }
  return out;
}

int64_t batches_per_epoch(int64_t requested, size_t split_size, int64_t batch_size) {
  if (requested > 0) return requested;
  return std::max<int64_t>(1, static_cast<int64_t>(split_size) / std::max<int64_t>(1, batch_size));
}

}  // namespace xp::seg
