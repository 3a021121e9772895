#include "data/pixel_conversion.h"

#include <stdexcept>
#include <string>

namespace xp::data {

namespace {

torch::Tensor coefficient_tensor(const std::vector<double>& values) {
  std::vector<float> f(values.begin(), values.end());
  return torch::tensor(f, torch::kFloat32).view({1, -1, 1, 1});
}

}  // namespace

PixelConversion PixelConversion::unit_range() {
  PixelConversion c;
  c.scale_ = coefficient_tensor({1.0 / 255.0});
  c.shift_ = coefficient_tensor({0.0});
  return c;
}

PixelConversion PixelConversion::normalize(const std::vector<double>& mean, const std::vector<double>& std,
                                           double max_pixel_value) {
  if (mean.empty() || mean.size() != std.size())
    throw std::invalid_argument("normalize: mean and std need the same, non-zero number of values");
  std::vector<double> scale, shift;
  for (size_t k = 0; k < mean.size(); ++k) {
    scale.push_back(1.0 / (max_pixel_value * std[k]));
    shift.push_back(-mean[k] / std[k]);
  }
  PixelConversion c;
  c.scale_ = coefficient_tensor(scale);
  c.shift_ = coefficient_tensor(shift);
  c.applies_to_float_ = true;
  return c;
}

PixelConversion PixelConversion::to(const torch::Device& device) const {
  PixelConversion c = *this;
  c.scale_ = scale_.to(device);
  c.shift_ = shift_.to(device);
  return c;
}

torch::Tensor PixelConversion::broadcast(const torch::Tensor& coefficients, int64_t channels) const {
  if (coefficients.size(1) == 1 || coefficients.size(1) == channels) return coefficients;
  throw std::invalid_argument("normalize has " + std::to_string(coefficients.size(1)) + " mean/std values but the image has " +
                              std::to_string(channels) + " channels");
}

torch::Tensor PixelConversion::apply(const torch::Tensor& nhwc) const {
  if (nhwc.dim() != 4 || nhwc.scalar_type() != torch::kByte)
    throw std::invalid_argument("PixelConversion::apply expects a uint8 [N, H, W, C] batch");
  const int64_t c = nhwc.size(3);
  torch::Tensor scale = broadcast(scale_, c), shift = broadcast(shift_, c);
  if (scale.device() != nhwc.device()) {  // the loader's CPU copy used on a CPU batch needs no move
    scale = scale.to(nhwc.device());
    shift = shift.to(nhwc.device());
  }
  // permute: NHWC memory seen as NCHW is channels_last; to() and the in-place ops keep the strides.
  torch::Tensor x = nhwc.permute({0, 3, 1, 2}).to(torch::kFloat32);
  return x.mul_(scale).add_(shift);
}

torch::Tensor PixelConversion::apply_to_float_chw(const torch::Tensor& chw) const {
  if (!applies_to_float_) return chw;
  const int64_t c = chw.size(0);
  return chw.unsqueeze(0).mul(broadcast(scale_, c)).add_(broadcast(shift_, c)).squeeze(0);
}

}  // namespace xp::data
