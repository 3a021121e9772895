#pragma once
// A small deterministic generator. Every random draw in the data pipeline comes from an Rng seeded
// by (run seed, epoch, sample index), so results do not depend on how many loader workers run or
// in which order they finish.

#include <cstdint>
#include <cmath>
#include <random>

namespace xp {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : engine_(seed) {}
  // Mixes several integers into one well-spread seed (splitmix64 chaining).
  static uint64_t mix(uint64_t a, uint64_t b = 0, uint64_t c = 0, uint64_t d = 0);
  static Rng for_sample(uint64_t seed, int64_t epoch, int64_t index) {
    return Rng(mix(seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(index), 0x5a17u));
  }

  double uniform(double lo = 0.0, double hi = 1.0);
  double normal(double mean = 0.0, double stddev = 1.0);
  int64_t integer(int64_t lo, int64_t hi);  // inclusive bounds
  bool bernoulli(double p) { return uniform() < p; }
  double beta(double a, double b);
  uint64_t next() { return engine_(); }
  std::mt19937_64& engine() { return engine_; }

 private:
  std::mt19937_64 engine_;
};

}  // namespace xp
