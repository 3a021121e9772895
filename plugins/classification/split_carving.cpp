#include "split_carving.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <xp/rng.h>

namespace xp::classification {

namespace {
void shuffle(std::vector<size_t>& v, Rng& rng) {
  for (int64_t i = static_cast<int64_t>(v.size()) - 1; i > 0; --i) std::swap(v[i], v[rng.integer(0, i)]);
}
}  // namespace

CarvedSplits carve_splits(const std::vector<int64_t>& labels, double val_fraction, double test_fraction,
                          uint64_t seed) {
  std::map<int64_t, std::vector<size_t>> by_class;
  for (size_t i = 0; i < labels.size(); ++i) by_class[labels[i]].push_back(i);
  CarvedSplits out;
  for (auto& [label, members] : by_class) {
    Rng rng(Rng::mix(seed, static_cast<uint64_t>(label), 0xca7e5u));
    shuffle(members, rng);
    const size_t n = members.size();
    size_t n_val = std::min(n, static_cast<size_t>(std::llround(n * val_fraction)));
    size_t n_test = std::min(n - n_val, static_cast<size_t>(std::llround(n * test_fraction)));
    out.val.insert(out.val.end(), members.begin(), members.begin() + n_val);
    out.test.insert(out.test.end(), members.begin() + n_val, members.begin() + n_val + n_test);
    out.train.insert(out.train.end(), members.begin() + n_val + n_test, members.end());
  }
  std::sort(out.train.begin(), out.train.end());
  std::sort(out.val.begin(), out.val.end());
  std::sort(out.test.begin(), out.test.end());
  return out;
}

std::vector<size_t> apply_limit(std::vector<size_t> positions, int64_t limit, uint64_t seed) {
  if (limit <= 0 || static_cast<size_t>(limit) >= positions.size()) return positions;
  Rng rng(Rng::mix(seed, 0x11317u));
  shuffle(positions, rng);
  positions.resize(static_cast<size_t>(limit));
  std::sort(positions.begin(), positions.end());
  return positions;
}

}  // namespace xp::classification
