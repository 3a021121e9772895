#include "inference/scene_segmenter.h"

#include <cmath>
#include <tuple>

#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include "engine/runtime.h"
#include "xp/base/suggest.h"
#include "xp/errors.h"

namespace xp::inference {

std::pair<int64_t, int64_t> training_tile_size(const LoadedRun& run) {
  for (const auto& split : {run.setup.test, run.setup.val, run.setup.train}) {
    if (!split || split->size() == 0) continue;
    Sample s = split->load(0);
    torch::Tensor t = prepare_image(run, s.image, 0);
    return {t.size(1), t.size(2)};
  }
  throw ConfigError("run " + run.id + ": its dataset has no sample to take the tile size from; give --window");
}

namespace {

// Writes rows of probabilities [1, n, W] (already calibrated) into a CV_16U map: round(p * 65535),
// clamped (OpenCV's saturating conversion rounds half to even, as torch's round does).
void store_rows(cv::Mat& map, int64_t y0, const torch::Tensor& rows) {
  const torch::Tensor p = rows[0].contiguous();
  const cv::Mat src(static_cast<int>(p.size(0)), static_cast<int>(p.size(1)), CV_32F, p.data_ptr<float>());
  src.convertTo(map.rowRange(static_cast<int>(y0), static_cast<int>(y0 + p.size(0))), CV_16U, kProbabilityScale);
}

}  // namespace

void segment_scene(LoadedRun& run, SceneReader& scene, const SceneOptions& options, const SceneRowSink& sink) {
  if (run.setup.info.task != Task::Segmentation)
    throw ConfigError("run " + run.id + " is a classification run; scenes are for segmentation runs");
  if (run.setup.info.num_classes > 1)
    throw ConfigError("run " + run.id + " segments " + std::to_string(run.setup.info.num_classes) +
                      " classes; xp predict writes scenes of binary (one-channel) segmentation runs only");
  if (scene.channels != run.setup.info.channels)
    throw ConfigError("the scene has " + std::to_string(scene.channels) + " channels; run " + run.id +
                      "'s model takes " + std::to_string(run.setup.info.channels));
  if (options.merge != "mean" && options.merge != "max")
    throw ConfigError("merge '" + options.merge + "' is not a way to merge scales (use mean or max)" +
                      did_you_mean(options.merge, {"mean", "max"}));
  if (options.scales.empty()) throw ConfigError("give at least one scale");
  for (double s : options.scales)
    if (!(s > 0.05 && s <= 4)) throw ConfigError("scale " + std::to_string(s) + " is outside (0.05, 4]");

  SlidingWindowOptions wo = options.window;
  if (wo.window_h <= 0 || wo.window_w <= 0) std::tie(wo.window_h, wo.window_w) = training_tile_size(run);
  wo.temperature = run.temperature;
  wo.device = run.device;
  wo.precision = run.precision;
  PrepareWindow prepare = [&run](const cv::Mat& window) { return prepare_image(run, window.clone(), 0); };
  // On a GPU, when the evaluation transforms are only the pixel conversion (none, or a final
  // `normalize`), windows travel as uint8 and become float on the device, as training batches do
  // (the engine's rule for train.normalize_on_device, with nothing left to run on the host).
  if (wo.device.is_cuda() && !wo.device_conversion) {
    const engine::DeferredConversion deferred =
        engine::defer_pixel_conversion(run.setup.eval_augment, run.setup.eval_final_normalize, wo.device);
    if (deferred.augment.empty()) wo.device_conversion = deferred.host;
  }
  const double level = std::ceil(options.threshold * kProbabilityScale - 1e-9);
  auto send = [&](int64_t y0, const cv::Mat& probability) {
    cv::Mat mask;
    cv::compare(probability, level, mask, cv::CMP_GE);
    sink(y0, probability, mask);
  };

  if (options.scales.size() == 1 && options.scales[0] == 1.0) {
    // One scale: strips in, rows out.
    sliding_window(
        *run.setup.model, scene.height, scene.width,
        [&scene](int64_t y0, int64_t n) { return scene.rows(static_cast<int>(y0), static_cast<int>(n)); }, prepare, wo,
        [&](int64_t y0, const torch::Tensor& rows) {
          cv::Mat q(static_cast<int>(rows.size(1)), static_cast<int>(rows.size(2)), CV_16U);
          store_rows(q, 0, rows);
          send(y0, q);
        });
    return;
  }

  // Several scales (or one other than 1): resizing takes the whole scene.
  const cv::Mat whole = scene.rows(0, scene.height);
  cv::Mat probability;
  for (size_t i = 0; i < options.scales.size(); ++i) {
    const double s = options.scales[i];
    cv::Mat scaled = whole;
    if (s != 1.0) {
      const cv::Size size(std::max(1, static_cast<int>(std::lround(whole.cols * s))),
                          std::max(1, static_cast<int>(std::lround(whole.rows * s))));
      cv::resize(whole, scaled, size, 0, 0, s < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    }
    cv::Mat map(scaled.rows, scaled.cols, CV_16U, cv::Scalar(0));
    sliding_window(*run.setup.model, scaled, prepare, wo,
                   [&](int64_t y0, const torch::Tensor& rows) { store_rows(map, y0, rows); });
    if (map.size() != whole.size()) cv::resize(map, map, whole.size(), 0, 0, cv::INTER_LINEAR);
    if (i == 0) {
      probability = map;
    } else if (options.merge == "max") {
      cv::max(probability, map, probability);
    } else {
      // Running mean over the scales so far, in 16 bits.
      cv::addWeighted(probability, static_cast<double>(i) / static_cast<double>(i + 1), map,
                      1.0 / static_cast<double>(i + 1), 0.0, probability);
    }
  }
  send(0, probability);
}

SceneResult segment_scene(LoadedRun& run, const cv::Mat& scene, const SceneOptions& options) {
  auto reader = scene_from_mat(scene);
  SceneResult result;
  result.probability = cv::Mat(scene.rows, scene.cols, CV_16U, cv::Scalar(0));
  result.mask = cv::Mat(scene.rows, scene.cols, CV_8U, cv::Scalar(0));
  segment_scene(run, *reader, options, [&](int64_t y0, const cv::Mat& probability, const cv::Mat& mask) {
    const cv::Range r(static_cast<int>(y0), static_cast<int>(y0) + probability.rows);
    probability.copyTo(result.probability.rowRange(r));
    mask.copyTo(result.mask.rowRange(r));
  });
  return result;
}

}  // namespace xp::inference
