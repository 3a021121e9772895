#include "seg_target.h"

#include <torch/nn/functional/pooling.h>

#include "xp/errors.h"

namespace xp::seg {

namespace F = torch::nn::functional;

Schema& add_target_options(Schema& schema) {
  return schema.add_int("ignore_index", 255, "target value of pixels that do not count").range(-1, 65535)
      .add_string("boundary", "none", "object edges: none, ignore (drop a band) or soft (smoothed labels)")
      .choices({"none", "ignore", "soft"})
      .add_int("boundary_width", 1, "band width in pixels on each side of an object edge").range(1, 64)
      .add_float("soft_value", 0.05, "boundary = soft: band pixels get soft_value / 1 - soft_value")
      .range(0.0, 0.5);
}

TargetOptions target_options(const Params& p) {
  TargetOptions o;
  o.ignore_index = p.get_int("ignore_index");
  const std::string& b = p.get_string("boundary");
  o.boundary = b == "ignore" ? Boundary::Ignore : b == "soft" ? Boundary::Soft : Boundary::None;
  o.boundary_width = p.get_int("boundary_width");
  o.soft_value = p.get_float("soft_value");
  return o;
}

torch::Tensor boundary_band(const torch::Tensor& positive, int64_t width) {
  auto pos = positive.to(torch::kFloat);
  auto pool = F::MaxPool2dFuncOptions(2 * width + 1).stride(1).padding(width);
  // max_pool pads with -inf, so pixels outside the image never dilate into it nor erode it.
  auto dilated = F::max_pool2d(pos, pool) > 0.5;
  auto eroded = F::max_pool2d(1.0 - pos, pool) < 0.5;
  return dilated.logical_and(eroded.logical_not());
}

PreparedTarget prepare_target(const torch::Tensor& target, const TargetOptions& o) {
  torch::NoGradGuard no_grad;
  auto t = target.to(torch::kFloat);
  auto valid = t != static_cast<double>(o.ignore_index);
  auto clean = torch::where(valid, t, torch::zeros_like(t)).clamp(0.0, 1.0);
  if (o.boundary != Boundary::None) {
    auto band = boundary_band(clean > 0.5, o.boundary_width).logical_and(valid);
    if (o.boundary == Boundary::Ignore) {
      valid = valid.logical_and(band.logical_not());
      clean = torch::where(valid, clean, torch::zeros_like(clean));
    } else {
      auto soft = torch::where(clean > 0.5, torch::full_like(clean, 1.0 - o.soft_value),
                               torch::full_like(clean, o.soft_value));
      clean = torch::where(band, soft, clean);
    }
  }
  return {clean, valid.to(torch::kFloat)};
}

void check_binary_logits(const torch::Tensor& logits, const torch::Tensor& target, const std::string& who) {
  auto shape = [](const torch::Tensor& x) {
    std::string s = "[";
    for (int64_t i = 0; i < x.dim(); ++i) s += (i ? "," : "") + std::to_string(x.size(i));
    return s + "]";
  };
  if (!logits.defined() || !target.defined())
    throw ConfigError(who + ": needs model logits and a segmentation target");
  if (logits.dim() != 4 || logits.size(1) != 1)
    throw ConfigError(who + ": expects binary logits [B,1,H,W], the model returned " + shape(logits) +
                      " (set the model's out_channels = 1)");
  if (target.dim() != 4 || target.size(0) != logits.size(0) || target.size(2) != logits.size(2) ||
      target.size(3) != logits.size(3))
    throw ConfigError(who + ": logits " + shape(logits) + " do not match the target " + shape(target) +
                      " (is the dataset a segmentation dataset?)");
}

}  // namespace xp::seg
