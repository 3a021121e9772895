#include "engine/sample_images.h"

#include <algorithm>

#include <torch/torch.h>

namespace xp::engine {

std::optional<PixelNormalization> find_normalization(const std::vector<Params>& augment) {
  std::optional<PixelNormalization> found;
  for (const auto& p : augment)
    if (p.plugin() == "normalize" && p.has("mean") && p.has("std") && p.has("max_pixel_value"))
      found = PixelNormalization{p.get_floats("mean"), p.get_floats("std"), p.get_float("max_pixel_value")};
  return found;
}

std::vector<cv::Mat> batch_to_pixels(const torch::Tensor& input, int64_t count,
                                     const std::optional<PixelNormalization>& normalization) {
  std::vector<cv::Mat> out;
  if (!input.defined() || input.dim() != 4 || !input.is_floating_point()) return out;
  torch::NoGradGuard no_grad;
  const int64_t n = std::min(count, input.size(0));
  torch::Tensor x = input.narrow(0, 0, n).detach().to(torch::kCPU, torch::kFloat);
  const int64_t c = x.size(1);
  // Multi-band inputs show their colour bands: the first three (as colour transforms see them).
  if (c == 2) x = x.narrow(1, 0, 1);
  if (c >= 4) x = x.narrow(1, 0, 3);
  const int64_t shown = x.size(1);
  const bool invertible = normalization && !normalization->mean.empty() &&
                          normalization->std.size() == normalization->mean.size() &&
                          (normalization->mean.size() == 1 || static_cast<int64_t>(normalization->mean.size()) == c);
  if (invertible) {
    auto per_channel = [&](const std::vector<double>& v) {
      std::vector<float> f(v.begin(), v.end());
      return torch::tensor(f).narrow(0, 0, std::min<int64_t>(static_cast<int64_t>(f.size()), shown)).view({1, -1, 1, 1});
    };
    x = (x * per_channel(normalization->std) + per_channel(normalization->mean)) * normalization->max_pixel_value;
  } else if (x.numel() > 0 && x.min().item<float>() >= 0.0f && x.max().item<float>() <= 1.0f) {
    x = x * 255.0;
  } else {
    // Not a pipeline xp can invert: each image stretched to the full range, so it is visible.
    auto flat = x.reshape({n, -1});
    auto lo = std::get<0>(flat.min(1)).view({n, 1, 1, 1}), hi = std::get<0>(flat.max(1)).view({n, 1, 1, 1});
    x = (x - lo) * (255.0 / (hi - lo).clamp_min(1e-12));
  }
  torch::Tensor pixels = x.round().clamp(0, 255).to(torch::kUInt8).permute({0, 2, 3, 1}).contiguous();
  const int h = static_cast<int>(pixels.size(1)), w = static_cast<int>(pixels.size(2));
  for (int64_t i = 0; i < n; ++i)
    out.push_back(cv::Mat(h, w, CV_8UC(static_cast<int>(shown)), pixels[i].data_ptr<uint8_t>()).clone());
  return out;
}

}  // namespace xp::engine
