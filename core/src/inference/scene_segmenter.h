#pragma once
// A whole scene segmented with a finished run: sliding windows (sliding_window.h) at one or more
// scales, merged, calibrated (the run's temperature and threshold), quantized as they arrive.
// At scale 1 alone the scene is read a window-high strip at a time and finished rows leave through a
// callback, so host memory grows with the scene's width times the window, not with its area;
// multi-scale inference holds the uint8 scene and a uint16 map per scale. The device sees one
// batch of windows at a time.

#include <functional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "inference/objects.h"
#include "inference/run_model.h"
#include "inference/scene_raster.h"
#include "inference/sliding_window.h"

namespace xp::inference {

struct SceneOptions {
  SlidingWindowOptions window;       // window size 0: the run's tile size
  std::vector<double> scales{1.0};   // e.g. {1.0, 0.5}: the scene resized, predicted, resized back
  std::string merge = "mean";        // mean | max over scales
  double threshold = 0.5;            // mask = probability >= threshold
};

struct SceneResult {
  cv::Mat probability;  // CV_16U, H x W: round(p * 65535)
  cv::Mat mask;         // CV_8U, H x W: 255 where p >= threshold, else 0
};

// The run's tile size: its first test (else val, else train) sample after the evaluation
// transforms. Throws xp::ConfigError when the dataset has no sample to measure.
std::pair<int64_t, int64_t> training_tile_size(const LoadedRun& run);

// Finished rows [y0, y0 + probability.rows) of a scene: CV_16U probabilities and the CV_8U mask.
using SceneRowSink = std::function<void(int64_t y0, const cv::Mat& probability, const cv::Mat& mask)>;

// Binary (one-channel) segmentation runs only; throws xp::ConfigError otherwise or when the scene
// has another channel count than the model takes. Rows reach `sink` once each, top to bottom.
void segment_scene(LoadedRun& run, SceneReader& scene, const SceneOptions& options, const SceneRowSink& sink);

// The whole scene in memory, the whole result back (tests, small scenes).
SceneResult segment_scene(LoadedRun& run, const cv::Mat& scene, const SceneOptions& options);

}  // namespace xp::inference
