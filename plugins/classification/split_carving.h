#pragma once
// Deterministic, stratified carving of validation/test splits out of one list of labelled samples,
// and the `limit` cap for quick runs. Stratified so that a class with 40 images still lands in
// validation in proportion; seeded so that the same split_seed always gives the same split.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace xp::classification {

struct CarvedSplits {
  std::vector<size_t> train, val, test;  // positions in the input, each list ascending
};

CarvedSplits carve_splits(const std::vector<int64_t>& labels, double val_fraction, double test_fraction,
                          uint64_t seed);

// Keeps `limit` positions (0 = all), chosen by a seeded draw so that every class stays represented
// in proportion; the result stays ascending.
std::vector<size_t> apply_limit(std::vector<size_t> positions, int64_t limit, uint64_t seed);

}  // namespace xp::classification
