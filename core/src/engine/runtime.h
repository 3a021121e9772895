#pragma once
// Where and how a run computes: the device, CPU threads and BLAS threads, mixed precision,
// memory layout, and whether the loader's pixel conversion is left to the device. Resolved once
// from [train] before anything is built; the train step and the evaluator read it.

#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "data/pixel_conversion.h"
#include "engine/sample_images.h"
#include "engine/train_options.h"
#include "xp/augmentation.h"
#include "xp/sample.h"

namespace xp::engine {

class RunLog;

// A loader pipeline whose pixel conversion (and final `normalize`) runs on the training device.
struct DeferredConversion {
  std::vector<std::shared_ptr<Augmentation>> augment;  // the pipeline without that `normalize`
  data::PixelConversion host, device;                  // the loader's copy and the device's
};

// A pipeline's pixel conversion moved to `device`: the `normalize` it ends with (when it does) is
// taken out of `augment` and done there, else the plain uint8 -> [0, 1] conversion. What is left in
// `augment` still runs on the host, per sample.
DeferredConversion defer_pixel_conversion(const std::vector<std::shared_ptr<Augmentation>>& augment,
                                          const std::optional<PixelNormalization>& final_normalize,
                                          const torch::Device& device);

struct Runtime {
  torch::Device device{torch::kCPU};
  c10::ScalarType amp_dtype = torch::kFloat;  // autocast dtype; kFloat = off
  bool channels_last = false;
  std::optional<DeferredConversion> train_conversion, eval_conversion;  // train.normalize_on_device

  // Applies the thread settings (torch intra-op, OpenBLAS) and resolves the device and precision;
  // notes what it changed (fp16 asked on a CPU) through `log`. Throws ConfigError for a bad device.
  static Runtime configure(const TrainOptions& options, RunLog* log);

  // The conversions for a pipeline pair, when train.normalize_on_device asks for them.
  void defer_conversions(const TrainOptions& options, const std::vector<std::shared_ptr<Augmentation>>& augment,
                         const std::optional<PixelNormalization>& augment_normalize,
                         const std::vector<std::shared_ptr<Augmentation>>& eval_augment,
                         const std::optional<PixelNormalization>& eval_normalize, RunLog* log);

  // Moves a batch to the device; a uint8 batch (deferred conversion) becomes float there.
  Batch to_device(Batch batch, const DeferredConversion* conversion) const;
  // Puts 4-d parameters in channels_last when the runtime uses it.
  void place(torch::nn::Module& module) const;
};

// "auto" -> CUDA when there is a device, else the CPU; "cuda" without a device is a ConfigError.
// `option` names the setting in messages (train.device, --device); `other_values` are values the
// caller handles itself (listed in the messages and suggestions).
torch::Device resolve_device(const std::string& name, const std::string& option = "train.device",
                             const std::vector<std::string>& other_values = {});
// torch's intra-op threads (0 = every core) and a single-threaded OpenBLAS under them.
void configure_cpu_threads(int64_t threads);
// Large CPU tensors reuse freed heap memory instead of a fresh mmap each (glibc malloc settings).
void keep_freed_memory();
// A 4-d tensor with NHWC strides, copied only when its strides are not already NHWC; also when it
// has a size-1 dimension (one channel), where contiguous(ChannelsLast) keeps NCHW strides.
torch::Tensor with_nhwc_strides(const torch::Tensor& t);
// train.channels_last ("auto", "on", "off") on this device: auto = on the CPU when LibTorch has oneDNN.
bool use_channels_last(const std::string& setting, const torch::Device& device);

}  // namespace xp::engine
