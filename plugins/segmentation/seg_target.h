#pragma once
// Turns a collated segmentation target ([B,1,H,W] float: 0/1 or soft values, `ignore_index` where
// ignored) into what binary losses consume: a target in [0,1] and a 0/1 weight of the pixels that
// count. Object boundaries of rare, small objects are where annotations disagree most, so every
// loss can also ignore or soften a band of `boundary_width` pixels around them.

#include <cstdint>

#include "xp/params.h"
#include "xp/schema.h"
#include <torch/types.h>

namespace xp::seg {

enum class Boundary { None, Ignore, Soft };

struct TargetOptions {
  int64_t ignore_index = 255;
  Boundary boundary = Boundary::None;
  int64_t boundary_width = 1;
  double soft_value = 0.05;
};

// Declares ignore_index, boundary, boundary_width, soft_value.
Schema& add_target_options(Schema& schema);
TargetOptions target_options(const Params& params);

struct PreparedTarget {
  torch::Tensor target;  // [B,1,H,W] float in [0,1]; 0 where ignored
  torch::Tensor weight;  // [B,1,H,W] float, 1 where the pixel counts, 0 where ignored
};

PreparedTarget prepare_target(const torch::Tensor& target, const TargetOptions& options);

// Pixels within `width` (chessboard distance) of the edge of `positive` ([B,1,H,W] bool), on
// either side. The image border is not an object edge.
torch::Tensor boundary_band(const torch::Tensor& positive, int64_t width);

// Checks that `logits` is [B,1,H,W] with the target's batch and spatial size; throws
// xp::ConfigError naming `who` otherwise (a model wired to the wrong loss or metric).
void check_binary_logits(const torch::Tensor& logits, const torch::Tensor& target, const std::string& who);

}  // namespace xp::seg
