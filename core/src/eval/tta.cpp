#include "eval/tta.h"

#include <algorithm>

#include <torch/torch.h>

#include "xp/base/suggest.h"
#include "xp/errors.h"

namespace xp {

const std::vector<std::string>& tta_modes() {
  static const std::vector<std::string> modes = {"none", "hflip", "flips", "multiscale", "five_crop"};
  return modes;
}

void check_tta_mode(const std::string& mode) {
  const auto& m = tta_modes();
  if (std::find(m.begin(), m.end(), mode) == m.end())
    throw ConfigError("unknown TTA mode '" + mode + "'" + did_you_mean(mode, m) +
                      " (modes: none, hflip, flips, multiscale, five_crop)");
}

namespace {

torch::Tensor to_probs(const torch::Tensor& logits, Task task) {
  if (task == Task::Classification || logits.size(1) > 1) return torch::softmax(logits, 1);
  return torch::sigmoid(logits);
}

// A view: how to transform the input, and how to bring a dense prediction back.
struct View {
  std::vector<int64_t> flip_dims;  // spatial dims flipped (3 = width, 2 = height)
  double scale = 1.0;
  double crop = 1.0;               // side of a crop as a fraction of the input's, resized back
  double crop_y = 0.5, crop_x = 0.5;  // where the crop sits: 0 top/left, 0.5 centre, 1 bottom/right
};

// five_crop keeps 87.5% of each side, as torchvision's 224-of-256 crops do.
constexpr double kFiveCropFraction = 0.875;

std::vector<View> views(const std::string& mode) {
  if (mode == "hflip") return {{{}, 1.0}, {{3}, 1.0}};
  if (mode == "flips") return {{{}, 1.0}, {{3}, 1.0}, {{2}, 1.0}, {{2, 3}, 1.0}};
  if (mode == "multiscale") return {{{}, 0.875}, {{}, 1.0}, {{}, 1.125}};
  if (mode == "five_crop") {
    const double f = kFiveCropFraction;
    return {{{}, 1.0, f, 0.5, 0.5}, {{}, 1.0, f, 0, 0}, {{}, 1.0, f, 0, 1}, {{}, 1.0, f, 1, 0}, {{}, 1.0, f, 1, 1}};
  }
  return {{{}, 1.0}};
}

torch::Tensor resized(const torch::Tensor& x, int64_t h, int64_t w) {
  return torch::nn::functional::interpolate(
      x, torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBilinear).align_corners(false));
}

}  // namespace

torch::Tensor predict_probabilities(Model& model, const torch::Tensor& input, Task task, const std::string& mode) {
  check_tta_mode(mode);
  if ((mode == "multiscale" || mode == "five_crop") && task == Task::Segmentation)
    throw ConfigError("TTA mode '" + mode + "' is for classification; use 'flips' for segmentation");
  torch::NoGradGuard no_grad;
  torch::Tensor sum;
  const auto all = views(mode);
  for (const auto& v : all) {
    torch::Tensor x = input;
    if (!v.flip_dims.empty()) x = x.flip(v.flip_dims);
    if (v.crop != 1.0) {
      const int64_t h = input.size(2), w = input.size(3);
      const int64_t ch = std::max<int64_t>(1, std::lround(h * v.crop)), cw = std::max<int64_t>(1, std::lround(w * v.crop));
      const auto y0 = static_cast<int64_t>(std::lround((h - ch) * v.crop_y));
      const auto x0 = static_cast<int64_t>(std::lround((w - cw) * v.crop_x));
      x = resized(x.narrow(2, y0, ch).narrow(3, x0, cw), h, w);
    }
    if (v.scale != 1.0)
      x = resized(x, static_cast<int64_t>(std::lround(input.size(2) * v.scale)),
                  static_cast<int64_t>(std::lround(input.size(3) * v.scale)));
    torch::Tensor p = to_probs(model.forward(x).logits, task);
    if (task == Task::Segmentation && !v.flip_dims.empty()) p = p.flip(v.flip_dims);
    sum = sum.defined() ? sum + p : p;
  }
  return sum / static_cast<double>(all.size());
}

}  // namespace xp
