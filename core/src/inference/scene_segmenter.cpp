#include "inference/scene_segmenter.h"

#include <cmath>
#include <tuple>

#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

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

// Writes rows of probabilities [1, n, W] (already calibrated) into a CV_16U map.
void store_rows(cv::Mat& map, int64_t y0, const torch::Tensor& rows) {
  torch::Tensor q = (rows[0] * kProbabilityScale).round_().clamp_(0, kProbabilityScale).to(torch::kInt32).contiguous();
  const int64_t n = q.size(0), w = q.size(1);
  const int32_t* src = q.data_ptr<int32_t>();
  for (int64_t r = 0; r < n; ++r) {
    auto* dst = map.ptr<uint16_t>(static_cast<int>(y0 + r));
    for (int64_t c = 0; c < w; ++c) dst[c] = static_cast<uint16_t>(src[r * w + c]);
  }
}

}  // namespace

SceneResult segment_scene(LoadedRun& run, const cv::Mat& scene, const SceneOptions& options) {
  if (run.setup.info.task != Task::Segmentation)
    throw ConfigError("run " + run.id + " is a classification run; scenes are for segmentation runs");
  if (run.setup.info.num_classes > 1)
    throw ConfigError("run " + run.id + " segments " + std::to_string(run.setup.info.num_classes) +
                      " classes; xp predict writes scenes of binary (one-channel) segmentation runs only");
  if (scene.channels() != run.setup.info.channels)
    throw ConfigError("the scene has " + std::to_string(scene.channels()) + " channels; run " + run.id +
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

  SceneResult result;
  result.probability = cv::Mat(scene.rows, scene.cols, CV_16U, cv::Scalar(0));
  for (size_t i = 0; i < options.scales.size(); ++i) {
    const double s = options.scales[i];
    if (s == 1.0 && i == 0) {
      sliding_window(*run.setup.model, scene, prepare, wo, [&](int64_t y0, const torch::Tensor& rows) {
        store_rows(result.probability, y0, rows);
      });
      continue;
    }
    cv::Mat scaled = scene;
    if (s != 1.0) {
      const cv::Size size(std::max(1, static_cast<int>(std::lround(scene.cols * s))),
                          std::max(1, static_cast<int>(std::lround(scene.rows * s))));
      cv::resize(scene, scaled, size, 0, 0, s < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    }
    cv::Mat map(scaled.rows, scaled.cols, CV_16U, cv::Scalar(0));
    sliding_window(*run.setup.model, scaled, prepare, wo,
                   [&](int64_t y0, const torch::Tensor& rows) { store_rows(map, y0, rows); });
    if (map.size() != scene.size()) cv::resize(map, map, scene.size(), 0, 0, cv::INTER_LINEAR);
    if (i == 0) {
      result.probability = map;
    } else if (options.merge == "max") {
      cv::max(result.probability, map, result.probability);
    } else {
      // Running mean over the scales so far, in 16 bits.
      cv::addWeighted(result.probability, static_cast<double>(i) / static_cast<double>(i + 1), map,
                      1.0 / static_cast<double>(i + 1), 0.0, result.probability);
    }
  }
  const double level = std::ceil(options.threshold * kProbabilityScale - 1e-9);
  cv::compare(result.probability, level, result.mask, cv::CMP_GE);
  return result;
}

}  // namespace xp::inference
