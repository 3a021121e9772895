#pragma once
// Splitting one epoch's order (every rank computes the same order from the same seed) into each
// rank's part. Torch-free.

#include <cstdint>
#include <vector>

namespace xp::distributed {

// Training: every rank gets ceil(N / world) indices, so that every rank runs the same number of
// steps (a rank with one batch more would wait forever in the gradient all-reduce). As torch's
// DistributedSampler does, the order is padded to world * ceil(N / world) by repeating its
// beginning (at most world - 1 samples are seen twice per epoch).
//
// The padded order is dealt in blocks of `batch_size`: rank r gets the sampler's batches r,
// r + world, r + 2 world, ..., so a rank's batch is exactly one batch of the sampler (a balanced or
// curriculum sampler asked for this per-rank batch size keeps its batches), and the ranks' k-th
// batches together are the k-th batch of one process with batch_size * world. The tail shorter
// than a round of blocks is split into `world` equal contiguous parts.
std::vector<int64_t> shard_for_training(const std::vector<int64_t>& order, int rank, int world, int64_t batch_size);

// Evaluation: contiguous parts without padding (sizes differ by at most one), so that the ranks
// together see every sample exactly once and reduced metrics equal one process's.
std::vector<int64_t> shard_for_evaluation(const std::vector<int64_t>& order, int rank, int world);

}  // namespace xp::distributed
