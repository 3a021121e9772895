#pragma once
// A whole scene segmented with a finished run: sliding windows (sliding_window.h) at one or more
// scales, merged, calibrated (the run's temperature and threshold), quantized as they arrive.
// Host memory per scene pixel: the uint8 scene, a uint16 probability, a uint8 mask (plus a
// uint16 map at each extra scale, s^2 of that); the device sees one batch of windows at a time.

#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "inference/objects.h"
#include "inference/run_model.h"
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

// Binary (one-channel) segmentation runs only; throws xp::ConfigError otherwise or when the scene
// has another channel count than the model takes.
SceneResult segment_scene(LoadedRun& run, const cv::Mat& scene, const SceneOptions& options);

}  // namespace xp::inference
