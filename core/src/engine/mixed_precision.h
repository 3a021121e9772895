#pragma once
// Mixed precision for the C++ training step: what torch.autocast and torch.cuda.amp.GradScaler do
// in Python, which LibTorch's C++ API does not wrap (1.13) or wraps differently (2.x).

#include <string>
#include <vector>

#include <torch/torch.h>

namespace xp::engine {

// "fp32" -> nullopt-like kFloat, "fp16" -> kHalf, "bf16" -> kBFloat16.
c10::ScalarType precision_dtype(const std::string& precision);

// Turns CUDA autocast on for its lifetime (forward and loss), restoring the previous state after.
// A no-op for fp32.
class AutocastScope {
 public:
  explicit AutocastScope(c10::ScalarType dtype);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false, was_enabled_ = false;
  c10::ScalarType previous_dtype_ = c10::ScalarType::Half;
};

struct LossScalerOptions {
  double init_scale = 65536.0;
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;  // finite steps in a row before the scale grows
};

// Dynamic loss scaling for fp16: the loss is multiplied by `scale` before backward so small
// gradients survive fp16; before the optimizer step the gradients are divided back and checked.
// A step whose gradients hold inf/NaN is skipped and the scale backs off; after `growth_interval`
// good steps it grows again.
class DynamicLossScaler {
 public:
  explicit DynamicLossScaler(LossScalerOptions options = {});

  torch::Tensor scale(const torch::Tensor& loss) const { return loss * scale_; }
  // Divides every gradient by the scale; true when all of them are finite (the step may proceed).
  bool unscale(const std::vector<torch::Tensor>& params);
  // After the step (or its skip): adjusts the scale for the next one.
  void update(bool finite);

  double current_scale() const { return scale_; }
  int64_t skipped_steps() const { return skipped_; }
  // For checkpoints: a resumed run continues with the same scale.
  void load(double scale, int64_t good_steps, int64_t skipped) {
    scale_ = scale;
    good_steps_ = good_steps;
    skipped_ = skipped;
  }
  int64_t good_steps() const { return good_steps_; }

 private:
  LossScalerOptions o_;
  double scale_;
  int64_t good_steps_ = 0, skipped_ = 0;
};

}  // namespace xp::engine
