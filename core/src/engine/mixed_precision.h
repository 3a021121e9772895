#pragma once
// Mixed precision for the C++ training step: what torch.autocast and torch.cuda.amp.GradScaler do
// in Python, which LibTorch's C++ API does not wrap (1.13) or wraps differently (2.x).

#include <string>
#include <vector>

#include <torch/torch.h>

namespace xp::engine {

// "fp32" -> nullopt-like kFloat, "fp16" -> kHalf, "bf16" -> kBFloat16.
c10::ScalarType precision_dtype(const std::string& precision);
// The inverse, for messages and the run's record: kFloat -> "fp32", kHalf -> "fp16", kBFloat16 -> "bf16".
std::string precision_name(c10::ScalarType dtype);

// Whether this CPU computes in bfloat16 natively (AVX512-BF16 or AMX-BF16). Without it oneDNN
// emulates bf16 (AVX-512) or LibTorch falls back to its reference kernels, both slower than fp32.
bool cpu_has_native_bf16();

// The autocast dtype a run uses on `device` when it asks for `requested` (precision_dtype):
// fp16 and bf16 on CUDA; bf16 on the CPU (LibTorch's CPU autocast is bf16-only in 1.13); kFloat
// otherwise. `why_not`, when given, says why a request was not honoured.
c10::ScalarType effective_precision(c10::ScalarType requested, const torch::Device& device,
                                    std::string* why_not = nullptr);

// Turns autocast on for `device`'s type (CUDA or CPU) for its lifetime (forward and loss),
// restoring the previous state after. A no-op for fp32.
class AutocastScope {
 public:
  AutocastScope(c10::ScalarType dtype, c10::DeviceType device);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false, was_enabled_ = false;
  c10::DeviceType device_ = c10::DeviceType::CUDA;
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
