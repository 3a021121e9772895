#pragma once
#include <cstdint>
#include <vector>

#include "xp/dataset.h"

namespace xp {

struct SamplerContext {
  uint64_t seed = 0;
  int64_t epoch = 0;
  int64_t batch_size = 1;
  const Split* split = nullptr;
};

// Kind "sampler": the order (with repetition allowed) in which one epoch visits a split. Must be a
// pure function of the context so a resumed run sees the same order.
class Sampler {
 public:
  static constexpr const char* kKind = "sampler";
  virtual ~Sampler() = default;
  virtual std::vector<int64_t> indices(const SamplerContext& context) const = 0;
};

}  // namespace xp
