#pragma once
// Training inputs back to pixels for display (TensorBoard's images): the batch the model sees is
// float CHW, either uint8 / 255 (the loader's conversion) or the output of a `normalize` transform.

#include <optional>
#include <vector>

#include <opencv2/core.hpp>
#include <torch/types.h>

#include "xp/params.h"

namespace xp::engine {

// The inverse of the `normalize` augmentation: pixel = (x * std + mean) * max_pixel_value.
struct PixelNormalization {
  std::vector<double> mean, std;  // one value, or one per channel
  double max_pixel_value = 255.0;
};

// The last top-level `normalize` of a pipeline ([[augment]] params), if there is one (also what
// `xp augment preview` inverts).
std::optional<PixelNormalization> find_normalization(const std::vector<Params>& augment);

// The first `count` images of an [N, C, H, W] float batch as 8-bit pixels: CV_8UC1 for one channel,
// CV_8UC3 (RGB) of the first three for three or more (alpha or auxiliary bands dropped), the first
// channel as grey for two. Inverts
// `normalization` when given; without it, values in [0, 1] are scaled by 255 and anything else is
// stretched from its own min..max. Empty when the input is not an image batch.
std::vector<cv::Mat> batch_to_pixels(const torch::Tensor& input, int64_t count,
                                     const std::optional<PixelNormalization>& normalization);

}  // namespace xp::engine
