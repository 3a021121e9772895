#pragma once
// Optional GPU JPEG decoding with NVIDIA's nvJPEG (`decoder = "nvjpeg"` of the file datasets).
// Compiled in only when the build finds nvjpeg.h and the CUDA runtime (XP_HAVE_NVJPEG); elsewhere
// nvjpeg_unavailable_reason() says why and the dataset refuses the setting with a ConfigError.
//
// Each loader thread keeps its own nvJPEG state, CUDA stream and device buffer. The image is
// decoded on the GPU (entropy decoding stays on the CPU for small images, as nvJPEG's hybrid
// backend does) and only the requested region is copied back to the host for the CPU transforms
// that follow. Pixels differ from libjpeg's by the IDCT's rounding (a level or two).

#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace xp::classification {

// Empty when nvJPEG can be used here; otherwise why not (not built with it, no CUDA device).
std::string nvjpeg_unavailable_reason();

// RGB (channels 3) or luma (channels 1) pixels of `region` of the JPEG in `bytes`
// (width x height from its header). Throws xp::BadSample(path, ...) for data nvJPEG rejects.
cv::Mat nvjpeg_decode(const std::vector<unsigned char>& bytes, int channels, const cv::Rect& region, int width,
                      int height, const std::string& path);

}  // namespace xp::classification
