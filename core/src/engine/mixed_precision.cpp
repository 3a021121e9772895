#include "engine/mixed_precision.h"

#include <cmath>
#include <stdexcept>

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

std::string precision_name(c10::ScalarType dtype) {
  if (dtype == c10::ScalarType::Half) return "fp16";
  if (dtype == c10::ScalarType::BFloat16) return "bf16";
  return "fp32";
}

bool cpu_has_native_bf16() {
#if defined(__x86_64__) || defined(__i386__)
  // Every CPU with AMX-BF16 has AVX512-BF16 too, so one flag covers both.
  return __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

c10::ScalarType effective_precision(c10::ScalarType requested, const torch::Device& device, std::string* why_not) {
  if (requested == c10::ScalarType::Float || device.is_cuda()) return requested;
  if (device.is_cpu() && requested == c10::ScalarType::BFloat16) return requested;
  if (why_not)
    *why_not = device.is_cpu() ? "autocast on the CPU computes in bf16 only" : "autocast here is for CUDA and the CPU";
  return c10::ScalarType::Float;
}

AutocastScope::AutocastScope(c10::ScalarType dtype, c10::DeviceType device) : device_(device) {
  if (dtype == c10::ScalarType::Float) return;
  if (device != c10::DeviceType::CUDA && device != c10::DeviceType::CPU)
    throw std::logic_error("autocast asked for a device that is neither CUDA nor the CPU");
  active_ = true;
#if XP_AUTOCAST_PER_DEVICE
  was_enabled_ = at::autocast::is_autocast_enabled(device);
  previous_dtype_ = at::autocast::get_autocast_dtype(device);
  at::autocast::set_autocast_enabled(device, true);
  at::autocast::set_autocast_dtype(device, dtype);
#else
  if (device == c10::DeviceType::CPU) {
    was_enabled_ = at::autocast::is_cpu_enabled();
    previous_dtype_ = at::autocast::get_autocast_cpu_dtype();
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(dtype);
  } else {
    was_enabled_ = at::autocast::is_enabled();
    previous_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_enabled(true);
    at::autocast::set_autocast_gpu_dtype(dtype);
  }
#endif
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  // The cast-weight cache lives for one forward: cleared when the outermost scope ends, as
  // torch.autocast's __exit__ does.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if XP_AUTOCAST_PER_DEVICE
  at::autocast::set_autocast_enabled(device_, was_enabled_);
  at::autocast::set_autocast_dtype(device_, previous_dtype_);
#else
  if (device_ == c10::DeviceType::CPU) {
    at::autocast::set_cpu_enabled(was_enabled_);
    at::autocast::set_autocast_cpu_dtype(previous_dtype_);
  } else {
    at::autocast::set_enabled(was_enabled_);
    at::autocast::set_autocast_gpu_dtype(previous_dtype_);
  }
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
