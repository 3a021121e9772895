#pragma once
#include "xp/rng.h"
#include "xp/sample.h"

namespace xp {

// Kind "augmentation": transforms one sample in place. Geometric transforms move sample.mask with
// the image (nearest interpolation); photometric ones leave it alone. Every augmentation gets a
// probability parameter `p` from the host (default 1.0 unless its schema declares its own), and
// is applied only when the draw succeeds, so apply() itself need not look at p.
class Augmentation {
 public:
  static constexpr const char* kKind = "augmentation";
  virtual ~Augmentation() = default;
  virtual void apply(Sample& sample, Rng& rng) const = 0;
  // True when apply() accepts a sample whose image is still encoded (Sample::encoded) and decodes
  // what it needs itself; otherwise the loader decodes the image before calling apply().
  virtual bool reads_encoded() const { return false; }
};

// Kind "batch_augmentation": mixes whole collated batches (mixup, cutmix). Sets batch.soft_target
// for classification.
class BatchAugmentation {
 public:
  static constexpr const char* kKind = "batch_augmentation";
  virtual ~BatchAugmentation() = default;
  virtual void apply(Batch& batch, int64_t num_classes, Rng& rng) const = 0;
};

}  // namespace xp

#include <memory>

#include "xp/params.h"

namespace xp {

// Builds an augmentation from validated params, gated by its `p`. Composition plugins (one_of,
// compose, ...) use it for their children.
std::shared_ptr<Augmentation> build_augmentation(const Params& params);

}  // namespace xp
