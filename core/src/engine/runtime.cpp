#include "engine/runtime.h"

#include <thread>

#include <dlfcn.h>
#include <malloc.h>

#include <torch/cuda.h>

#include "engine/mixed_precision.h"
#include "engine/run_log.h"
#include "xp/base/suggest.h"
#include "xp/errors.h"

namespace xp::engine {

torch::Device resolve_device(const std::string& name, const std::string& option,
                             const std::vector<std::string>& other_values) {
  const std::string given = option + " = '" + name + "'";
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available())
      throw ConfigError(given + " but this LibTorch build or machine has no CUDA device; use 'cpu' or 'auto'");
    try {
      return torch::Device(name);
    } catch (const std::exception&) {
      throw ConfigError(given + " is not a device name (use cpu, cuda or cuda:N)");
    }
  }
  std::vector<std::string> values = other_values;
  values.insert(values.end(), {"auto", "cpu", "cuda"});
  std::string listed;
  for (const auto& v : other_values) listed += v + ", ";
  throw ConfigError(given + " is not a device name (use " + listed + "auto, cpu, cuda or cuda:N)" +
                    did_you_mean(name, values));
}

void configure_cpu_threads(int64_t threads) {
  // 0 = every core, set explicitly: LibTorch's own default can be a single thread (Debian's 1.13
  // build on a 2-core machine trained Fashion-MNIST 1.4x slower without this).
  const auto cores = static_cast<int64_t>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(static_cast<int>(threads > 0 ? threads : cores));
  // LibTorch's CPU convolutions (without oneDNN, as Debian builds it) split the batch over its own
  // threads and call BLAS from each; a multi-threaded OpenBLAS inside them oversubscribes the cores
  // (measured: 1.5x slower per epoch on 2 cores). Found at run time: any BLAS, or none, may be loaded.
  using SetBlasThreads = void (*)(int);
  if (auto set_blas = reinterpret_cast<SetBlasThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set_blas(1);
}

bool use_channels_last(const std::string& setting, const torch::Device& device) {
  if (setting == "on") return true;
  if (setting == "off") return false;
  // auto: Debian's LibTorch runs CPU convolutions through oneDNN, whose kernels work in NHWC: an
  // NCHW model pays a reorder of every activation and weight in every convolution, forward and
  // backward (bench/train on 2 cores, 2026-12-04: simple_cnn steps 1.4x faster than NCHW, resnet
  // 1.4x, a U-Net epoch 1.3x).
  // On CUDA the gain depends on tensor cores and precision, so it stays an explicit choice.
  return device.is_cpu() && at::hasMKLDNN();
}

void keep_freed_memory() {
  // LibTorch's CPU allocator is malloc: every activation of a few MB is a fresh mmap, faulted in
  // page by page, zeroed by the kernel and unmapped again when freed, thousands of times an epoch
  // (measured on Fashion-MNIST, 2 cores: page faults and their zeroing were ~8 % of the run's CPU).
  // Served from the heap instead (the largest size glibc allows for mmap, and no trimming of the
  // heap top), freed blocks are reused as a caching allocator would. Costs only a higher peak RSS.
  // Idempotent: every run of a process sets the same two values.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

Runtime Runtime::configure(const TrainOptions& o, RunLog* log) {
  configure_cpu_threads(o.threads);
  Runtime rt;
  rt.device = resolve_device(o.device);
  if (rt.device.is_cpu()) keep_freed_memory();
  const c10::ScalarType requested = precision_dtype(o.precision);
  std::string why_not;
  rt.amp_dtype = effective_precision(requested, rt.device, &why_not);
  if (log && rt.amp_dtype != requested)
    // The same experiment file runs on a laptop and on a GPU server: a precision this device has
    // no autocast for falls back to fp32 and says so (the run records `precision_effective`).
    log->line("note: train.precision = '" + o.precision + "' is not available on " + rt.device.str() + " (" +
              why_not + "); this run trains in fp32");
  if (log && rt.device.is_cpu() && rt.amp_dtype == torch::kBFloat16)
    // bf16 on a CPU is worth it only with native bf16 instructions: oneDNN's bf16 convolutions
    // and matmuls run ~2x faster than fp32 there, and slower than fp32 where they are emulated.
    log->line(cpu_has_native_bf16()
                  ? "bf16 autocast on the CPU: convolutions and matmuls in bfloat16 (native AVX512-BF16)"
                  : "warning: train.precision = 'bf16' on a CPU without native bf16 instructions (AVX512-BF16): "
                    "emulated bf16 is usually slower than fp32");
  if (rt.device.is_cuda()) at::globalContext().setBenchmarkCuDNN(o.cudnn_benchmark);
  rt.channels_last = use_channels_last(o.channels_last, rt.device);
  if (log && o.channels_last == "auto" && rt.channels_last)
    log->line("the model and its inputs are channels_last (NHWC) on " + rt.device.str() +
              ": oneDNN's faster layout (train.channels_last = auto; \"off\" turns it off)");
  return rt;
}

DeferredConversion defer_pixel_conversion(const std::vector<std::shared_ptr<Augmentation>>& augment,
                                          const std::optional<PixelNormalization>& final_normalize,
                                          const torch::Device& device) {
  DeferredConversion d{augment, data::PixelConversion::unit_range(), {}};
  if (final_normalize && !augment.empty()) {
    d.augment.pop_back();
    d.host = data::PixelConversion::normalize(final_normalize->mean, final_normalize->std,
                                              final_normalize->max_pixel_value);
  }
  d.device = d.host.to(device);
  return d;
}

void Runtime::defer_conversions(const TrainOptions& o, const std::vector<std::shared_ptr<Augmentation>>& augment,
                                const std::optional<PixelNormalization>& augment_normalize,
                                const std::vector<std::shared_ptr<Augmentation>>& eval_augment,
                                const std::optional<PixelNormalization>& eval_normalize, RunLog* log) {
  if (!(o.normalize_on_device == "on" || (o.normalize_on_device == "auto" && device.is_cuda()))) return;
  train_conversion = defer_pixel_conversion(augment, augment_normalize, device);
  eval_conversion = defer_pixel_conversion(eval_augment, eval_normalize, device);
  if (log)
    log->line(std::string("images leave the loader as uint8 and become float") +
              (augment_normalize ? " (normalize included)" : "") + " on " + device.str() +
              " (train.normalize_on_device = " + o.normalize_on_device + ")");
}

Batch Runtime::to_device(Batch batch, const DeferredConversion* conversion) const {
  if (!device.is_cpu()) {
    auto move = [&](torch::Tensor& t) {
      if (t.defined()) t = t.to(device, /*non_blocking=*/true);
    };
    move(batch.input);
    move(batch.target);
    move(batch.soft_target);
    move(batch.index);
    for (auto& [k, t] : batch.extra) {
      (void)k;
      move(t);
    }
  }
  if (batch.input.scalar_type() == torch::kUInt8) {
    if (!conversion) throw std::logic_error("a uint8 batch reached the device without its pixel conversion");
    batch.input = conversion->device.apply(batch.input);  // channels_last strides already
    if (!channels_last) batch.input = batch.input.contiguous();
  } else if (channels_last) {
    batch.input = with_nhwc_strides(batch.input);
  }
  return batch;
}

torch::Tensor with_nhwc_strides(const torch::Tensor& t) {
  if (t.dim() != 4 || t.suggest_memory_format() == torch::MemoryFormat::ChannelsLast) return t;
  // Not contiguous(ChannelsLast): a tensor with a size-1 dimension already counts as channels_last
  // contiguous and comes back with its NCHW strides, so LibTorch, which picks a convolution's layout
  // from the strides (suggest_memory_format), ran a 1-channel first layer and the block after it
  // in NCHW (Fashion-MNIST in bf16: its max-pool forward 9x and backward 3x slower than NHWC).
  return torch::empty_like(t, torch::MemoryFormat::ChannelsLast).copy_(t);
}

void Runtime::place(torch::nn::Module& module) const {
  module.to(device);
  if (!channels_last) return;
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters())
    if (p.dim() == 4) p.set_data(with_nhwc_strides(p.data()));
}

}  // namespace xp::engine
