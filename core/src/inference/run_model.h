#pragma once
// A finished run's model, ready to predict: rebuilt from the run's recorded config.toml (the same
// path `xp run --resume` and `xp ensemble` take), its checkpoint loaded, in eval mode on the chosen
// device, with the run's evaluation transforms (`[[eval_augment]]`, whose final `normalize` holds
// the normalization statistics recorded with the run: they are never recomputed).

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <torch/types.h>

#include "config/run_spec.h"
#include "engine/runtime.h"
#include "engine/trainer.h"

namespace xp {

class PluginLoader;

namespace inference {

struct LoadOptions {
  std::string checkpoint = "best";  // best | last
  std::string device = "run";       // run (the run's train.device), auto, cpu, cuda, cuda:N
  std::string precision = "run";    // run, fp32, bf16, fp16 (autocast; the CPU has bf16 only)
  int64_t threads = 0;              // torch intra-op threads; 0: the run's train.threads (0 there: every core)
};

struct LoadedRun {
  std::string id;
  std::filesystem::path run_dir, checkpoint_file;
  RunSpec spec;
  engine::TrainSetup setup;  // model (eval mode, on `device`), eval_augment, info, options
  torch::Device device{torch::kCPU};
  c10::ScalarType precision = c10::ScalarType::Float;
  // The run's calibration (its summary's calib_temperature / calib_threshold), set by the caller
  // that has the registry; 1 and 0.5 when the run was not calibrated.
  double temperature = 1.0, threshold = 0.5;
};

// Throws xp::ConfigError when the folder has no config.toml or no checkpoint (naming the file and,
// for best, suggesting --checkpoint last), or a plugin library the run used is not loaded.
LoadedRun load_run(const std::string& id, const std::filesystem::path& run_dir, const LoadOptions& options,
                   PluginLoader& loader);

// Decodes an image file the way the file-based datasets do: 3 channels = RGB, 1 = grey, 8-bit.
// 16-bit files are scaled to 8 bits. Returns an empty Mat with `reason` set when the file cannot be
// decoded (the caller skips it); throws xp::ConfigError when it decodes to a channel count the model
// cannot take (1 and 3 convert between grey and colour; other counts must match).
cv::Mat read_image(const std::string& path, int channels, std::string& reason);

// The run's evaluation transforms applied to one decoded image (uint8 HWC) -> [C, H, W] float32,
// exactly as the data loader prepares an evaluation sample. `index` seeds any random transform as
// the loader would for epoch -1.
torch::Tensor prepare_image(const LoadedRun& run, cv::Mat image, int64_t index);

// The same with the pixel conversion left to the device (engine::defer_pixel_conversion of the
// run's evaluation transforms): `deferred.augment` runs here and a uint8 image comes back as uint8
// [H, W, C], for `deferred.device` to convert after the copy (4x fewer bytes to move).
torch::Tensor prepare_image(const LoadedRun& run, cv::Mat image, int64_t index,
                            const engine::DeferredConversion& deferred);

}  // namespace inference
}  // namespace xp
