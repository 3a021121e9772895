#pragma once
// What the segmentation metrics read from a batch: per-pixel probabilities, the hard target and
// which pixels count, on the CPU.

#include "xp/model.h"
#include "xp/sample.h"
#include "xp/schema.h"
#include "xp/params.h"

namespace xp::seg {

struct PixelView {
  torch::Tensor probability;  // [B,H,W] float32 contiguous, sigmoid of the logits
  torch::Tensor positive;     // [B,H,W] bool: target >= 0.5 (soft targets are thresholded)
  torch::Tensor valid;        // [B,H,W] bool: target != ignore_index
};

// Declares threshold and ignore_index.
Schema& add_metric_options(Schema& schema);

PixelView pixel_view(const ModelOutput& output, const Batch& batch, int64_t ignore_index, const std::string& who);

// x / y, 0 when y is 0 (no predictions / no positives: nothing to be right about).
inline double ratio(double x, double y) { return y > 0 ? x / y : 0.0; }

}  // namespace xp::seg
