#include "distributed/shard.h"

#include <stdexcept>
#include <string>

namespace xp::distributed {

namespace {
void check(int rank, int world) {
  if (world < 1 || rank < 0 || rank >= world)
    throw std::invalid_argument("shard: rank " + std::to_string(rank) + " of world " + std::to_string(world));
}
}  // namespace

std::vector<int64_t> shard_for_training(const std::vector<int64_t>& order, int rank, int world, int64_t batch_size) {
  check(rank, world);
  if (batch_size < 1) throw std::invalid_argument("shard: batch_size must be >= 1");
  const int64_t n = static_cast<int64_t>(order.size());
  if (n == 0) return {};
  const int64_t w = world;
  const int64_t per_rank = (n + w - 1) / w;
  auto at = [&](int64_t i) { return order[static_cast<size_t>(i % n)]; };  // padding wraps around
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(per_rank));
  const int64_t rounds = per_rank / batch_size;
  for (int64_t k = 0; k < rounds; ++k) {
    const int64_t start = (k * w + rank) * batch_size;
    for (int64_t j = 0; j < batch_size; ++j) out.push_back(at(start + j));
  }
  const int64_t tail = per_rank - rounds * batch_size;
  const int64_t tail_start = rounds * w * batch_size + rank * tail;
  for (int64_t j = 0; j < tail; ++j) out.push_back(at(tail_start + j));
  return out;
}

std::vector<int64_t> shard_for_evaluation(const std::vector<int64_t>& order, int rank, int world) {
  check(rank, world);
  const size_t n = order.size(), w = static_cast<size_t>(world), r = static_cast<size_t>(rank);
  const size_t begin = n * r / w, end = n * (r + 1) / w;
  return std::vector<int64_t>(order.begin() + static_cast<std::ptrdiff_t>(begin),
                              order.begin() + static_cast<std::ptrdiff_t>(end));
}

}  // namespace xp::distributed
