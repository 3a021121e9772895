#pragma once
// Segmentation of scenes of any size with a model trained on small tiles: windows of the training
// tile size slide over the scene with an overlap; each window's probabilities are weighted by a
// blending window (high in the centre, low at the edges, so seams do not show) and accumulated;
// the result is the weighted mean. Windows are batched on the device while the next batch is cut
// and prepared on a CPU thread. Memory: the scene stays uint8 on the host (or is read a strip at a
// time); the float accumulator
// holds one window-high band of rows (C x window x width), and finished rows leave through a
// callback in order, so the probabilities of the whole scene never exist as one float tensor.
// On a GPU the band lives on the device (the blending runs there, only finished rows come back),
// windows may travel as uint8 and become float there (`device_conversion`), and the callback runs
// on its own thread, one call at a time and in order, while the next windows are computed.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <torch/types.h>

#include "data/pixel_conversion.h"
#include "xp/model.h"

namespace xp::inference {

// Where the time of a scene went, for the caller's report (host seconds, summed over the scene).
struct SlidingWindowTimes {
  double waiting_for_windows = 0;  // the loop waited for the next batch to be cut and copied
  double waiting_for_rows = 0;     // the loop waited for the row sink to finish the previous rows
  int64_t batches = 0;
};

struct SlidingWindowOptions {
  int64_t window_h = 0, window_w = 0;  // the training tile size
  double overlap = 0.25;               // fraction of the window shared with the next one, [0, 0.95]
  std::string blend = "hann";          // hann (raised cosine, never 0) or uniform
  int64_t batch_size = 8;              // windows per forward pass
  std::string tta = "none";            // none, hflip, flips, d4: each window's views averaged
  double temperature = 1.0;            // logits / T before the sigmoid (softmax for C > 1)
  torch::Device device{torch::kCPU};
  c10::ScalarType precision = c10::ScalarType::Float;  // autocast dtype (CUDA, or bf16 on the CPU)
  // Set (by callers whose evaluation transforms are only the pixel conversion: v / 255 or a final
  // `normalize`): windows are copied as uint8 into the batch and this conversion makes them float on
  // the device; `prepare` is not called. Unset: every window goes through `prepare` on the host.
  std::optional<data::PixelConversion> device_conversion;
  SlidingWindowTimes* times = nullptr;  // where set, filled in
};

// uint8 HWC window (exactly window_h x window_w) -> [C, window_h, window_w] float32 model input.
using PrepareWindow = std::function<torch::Tensor(const cv::Mat& window)>;
// Finished rows [y0, y0 + rows.size(1)) of the probability map: [C, rows, scene width] float32.
using RowSink = std::function<void(int64_t y0, const torch::Tensor& rows)>;

// Window origins along one axis: 0, stride, ..., and a last one flush with the far edge.
std::vector<int64_t> window_origins(int64_t length, int64_t window, double overlap);

// The 2-D blending weights [window_h, window_w].
torch::Tensor blend_weights(int64_t h, int64_t w, const std::string& blend);

const std::vector<std::string>& segmentation_tta_modes();

// Rows [y0, y0 + n) of the scene, full width, uint8 HWC (a strip read from disk or a view).
using ReadRows = std::function<cv::Mat(int64_t y0, int64_t n)>;

// One forward pass of a batch of zeros shaped as `options`' windows, waited for: the first pass on
// a GPU loads the model's kernels (lazily, since CUDA 11.7) and sets up cuDNN, a fixed cost that
// this takes out of the first scene (callers overlap it with decoding that scene).
void warm_up(Model& model, int64_t channels, const SlidingWindowOptions& options);

// Scenes smaller than a window are padded (reflected) to the window size and cropped back.
// Throws xp::ConfigError for bad options.
void sliding_window(Model& model, const cv::Mat& scene, const PrepareWindow& prepare,
                    const SlidingWindowOptions& options, const RowSink& sink);

// The same over a scene of height x width read a window-high strip at a time, each strip once per
// row of windows: host memory holds one strip of pixels and one band of the accumulator.
void sliding_window(Model& model, int64_t height, int64_t width, const ReadRows& read, const PrepareWindow& prepare,
                    const SlidingWindowOptions& options, const RowSink& sink);

}  // namespace xp::inference
