#include "inference/run_model.h"

#include <thread>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/cuda.h>
#include <torch/torch.h>

#include "config/experiment.h"
#include "data/collate.h"
#include "engine/checkpoint.h"
#include "engine/experiment_runner.h"
#include "engine/mixed_precision.h"
#include "engine/runtime.h"
#include "xp/base/suggest.h"
#include "xp/errors.h"
#include "xp/rng.h"

namespace xp::inference {

namespace fs = std::filesystem;

LoadedRun load_run(const std::string& id, const fs::path& run_dir, const LoadOptions& options, PluginLoader& loader) {
  if (options.checkpoint != "best" && options.checkpoint != "last")
    throw ConfigError("checkpoint must be best or last, not '" + options.checkpoint + "'" +
                      did_you_mean(options.checkpoint, {"best", "last"}));
  LoadedRun run;
  run.id = id;
  run.run_dir = run_dir;
  const fs::path config = run_dir / "config.toml";
  run.checkpoint_file = run_dir / "checkpoints" / (options.checkpoint + ".pt");
  std::error_code ec;
  if (!fs::is_regular_file(config, ec))
    throw ConfigError("run " + id + " has no config.toml in " + run_dir.string());
  if (!fs::is_regular_file(run.checkpoint_file, ec))
    throw ConfigError("run " + id + " has no checkpoint " + run.checkpoint_file.string() +
                      (options.checkpoint == "best" ? " (try --checkpoint last)" : ""));
  run.spec = resolve_recorded_run(config, loader);
  run.setup = engine::build_setup(run.spec);

  std::string device = options.device;
  if (device == "run") {
    device = run.setup.options.device;
    // A run trained on a GPU still predicts on a machine without one.
    if (device.rfind("cuda", 0) == 0 && !torch::cuda::is_available()) device = "cpu";
  }
  run.device = engine::resolve_device(device, "--device", {"run"});
  const std::string precision = options.precision == "run" ? run.setup.options.precision : options.precision;
  run.precision = engine::effective_precision(engine::precision_dtype(precision), run.device);
  // A run trained in bf16 on a CPU with native bf16 predicts in bf16 there; elsewhere the CPU's
  // fp32 is faster than emulated bf16 (an explicit --precision bf16 is still honoured).
  if (options.precision == "run" && run.device.is_cpu() && !engine::cpu_has_native_bf16())
    run.precision = c10::ScalarType::Float;

  const int64_t threads = options.threads > 0 ? options.threads : run.setup.options.threads;
  torch::set_num_threads(static_cast<int>(threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency())));
  run.setup.model->to(run.device);
  engine::load_model_weights(run.checkpoint_file, *run.setup.model, run.device);
  run.setup.model->eval();
  return run;
}

cv::Mat read_image(const std::string& path, int channels, std::string& reason) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    reason = "no such file";
    return {};
  }
  cv::Mat raw;
  try {
    raw = cv::imread(path, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    reason = std::string("cannot decode: ") + e.what();
    return {};
  }
  if (raw.empty()) {
    reason = "not an image OpenCV can decode (or truncated)";
    return {};
  }
  if (raw.depth() == CV_16U) raw.convertTo(raw, CV_8U, 1.0 / 257.0);
  if (raw.depth() != CV_8U) {
    reason = "pixel type is not 8 or 16 bit";
    return {};
  }
  const int have = raw.channels();
  cv::Mat out;
  if (have == 2) cv::extractChannel(raw, raw, 0);  // grey + alpha: the grey
  const int usable = raw.channels();
  if (channels == 1 && usable <= 4) {
    if (usable == 1) out = raw;
    else cv::cvtColor(raw, out, usable == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
  } else if (channels == 3 && usable <= 4) {
    if (usable == 1) cv::cvtColor(raw, out, cv::COLOR_GRAY2RGB);
    else if (usable == 3) cv::cvtColor(raw, out, cv::COLOR_BGR2RGB);
    else cv::cvtColor(raw, out, cv::COLOR_BGRA2RGB);
  } else if (usable == channels) {
    out = raw;  // multi-band imagery: taken as stored
  } else {
    // Not a broken file but the wrong kind of input for this model: an error, not a skip.
    throw ConfigError(path + " has " + std::to_string(have) + " channels; the model takes " + std::to_string(channels));
  }
  return out;
}

namespace {

Sample transformed(const LoadedRun& run, cv::Mat image, int64_t index,
                   const std::vector<std::shared_ptr<Augmentation>>& augment) {
  Sample sample;
  sample.image = std::move(image);
  sample.index = index;
  Rng rng = Rng::for_sample(run.setup.seed, -1, index);
  for (const auto& a : augment) a->apply(sample, rng);
  return sample;
}

}  // namespace

torch::Tensor prepare_image(const LoadedRun& run, cv::Mat image, int64_t index) {
  return data::prepare_sample(transformed(run, std::move(image), index, run.setup.eval_augment)).image;
}

torch::Tensor prepare_image(const LoadedRun& run, cv::Mat image, int64_t index,
                            const engine::DeferredConversion& deferred) {
  return data::prepare_sample(transformed(run, std::move(image), index, deferred.augment), &deferred.host).image;
}

}  // namespace xp::inference
