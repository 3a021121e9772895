#include "engine/mixed_precision.h"

#include <cmath>

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "xp/errors.h"

// LibTorch 2.4 replaced the CUDA-only autocast switches with per-device-type ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define XP_AUTOCAST_PER_DEVICE 1
#else
#define XP_AUTOCAST_PER_DEVICE 0
#endif

namespace xp::engine {

c10::ScalarType precision_dtype(const std::string& precision) {
  if (precision == "fp32") return c10::ScalarType::Float;
  if (precision == "fp16") return c10::ScalarType::Half;
  if (precision == "bf16") return c10::ScalarType::BFloat16;
  throw ConfigError("train.precision = '" + precision + "': expected fp32, fp16 or bf16");
}

AutocastScope::AutocastScope(c10::ScalarType dtype) {
  if (dtype == c10::ScalarType::Float) return;
  active_ = true;
#if XP_AUTOCAST_PER_DEVICE
  was_enabled_ = at::autocast::is_autocast_enabled(at::kCUDA);
  previous_dtype_ = at::autocast::get_autocast_dtype(at::kCUDA);
  at::autocast::set_autocast_enabled(at::kCUDA, true);
  at::autocast::set_autocast_dtype(at::kCUDA, dtype);
#else
  was_enabled_ = at::autocast::is_enabled();
  previous_dtype_ = at::autocast::get_autocast_gpu_dtype();
  at::autocast::set_enabled(true);
  at::autocast::set_autocast_gpu_dtype(dtype);
#endif
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  // The cast-weight cache lives for one forward: cleared when the outermost scope ends, as
  // torch.autocast's __exit__ does.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if XP_AUTOCAST_PER_DEVICE
  at::autocast::set_autocast_enabled(at::kCUDA, was_enabled_);
  at::autocast::set_autocast_dtype(at::kCUDA, previous_dtype_);
#else
  at::autocast::set_enabled(was_enabled_);
  at::autocast::set_autocast_gpu_dtype(previous_dtype_);
#endif
}

DynamicLossScaler::DynamicLossScaler(LossScalerOptions options) : o_(options), scale_(options.init_scale) {}

bool DynamicLossScaler::unscale(const std::vector<torch::Tensor>& params) {
  torch::NoGradGuard no_grad;
  const double inv = 1.0 / scale_;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return true;
  if (grads.front().is_cuda()) {
    // The fused kernel torch.cuda.amp uses: unscale and detect inf/NaN in one pass.
    auto opts = grads.front().options().dtype(torch::kFloat);
    torch::Tensor found_inf = torch::zeros({1}, opts);
    at::_amp_foreach_non_finite_check_and_unscale_(grads, found_inf, torch::full({1}, inv, opts));
    return found_inf.item<float>() == 0.0f;
  }
  // One reduction and one host sync for all gradients: a single non-finite element makes the
  // sum of |g| non-finite (fp32 master gradients cannot overflow the sum in practice).
  torch::Tensor total = torch::zeros({}, grads.front().options().dtype(torch::kFloat));
  for (auto& g : grads) {
    g.mul_(inv);
    total += g.abs().sum().to(torch::kFloat);
  }
  return std::isfinite(total.item<double>());
}

void DynamicLossScaler::update(bool finite) {
  if (!finite) {
    scale_ *= o_.backoff_factor;
    good_steps_ = 0;
    ++skipped_;
    return;
  }
  if (++good_steps_ >= o_.growth_interval) {
    scale_ *= o_.growth_factor;
    good_steps_ = 0;
  }
}

}  // namespace xp::engine
