#include "eval/tta.h"

#include <algorithm>

#include <torch/torch.h>

#include "suggest.h"
#include "xp/errors.h"

namespace xp {

const std::vector<std::string>& tta_modes() {
  static const std::vector<std::string> modes = {"none", "hflip", "flips", "multiscale"};
  return modes;
}

void check_tta_mode(const std::string& mode) {
  const auto& m = tta_modes();
  if (std::find(m.begin(), m.end(), mode) == m.end())
    throw ConfigError("unknown TTA mode '" + mode + "'" + did_you_mean(mode, m) +
                      " (modes: none, hflip, flips, multiscale)");
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
};

std::vector<View> views(const std::string& mode) {
  if (mode == "hflip") return {{{}, 1.0}, {{3}, 1.0}};
  if (mode == "flips") return {{{}, 1.0}, {{3}, 1.0}, {{2}, 1.0}, {{2, 3}, 1.0}};
  if (mode == "multiscale") return {{{}, 0.875}, {{}, 1.0}, {{}, 1.125}};
  return {{{}, 1.0}};
}

}  // namespace

torch::Tensor predict_probabilities(Model& model, const torch::Tensor& input, Task task, const std::string& mode) {
  check_tta_mode(mode);
  if (mode == "multiscale" && task == Task::Segmentation)
    throw ConfigError("TTA mode 'multiscale' is for classification; use 'flips' for segmentation");
  torch::NoGradGuard no_grad;
  torch::Tensor sum;
  const auto all = views(mode);
  for (const auto& v : all) {
    torch::Tensor x = input;
    if (!v.flip_dims.empty()) x = x.flip(v.flip_dims);
    if (v.scale != 1.0) {
      const auto h = static_cast<int64_t>(std::lround(input.size(2) * v.scale));
      const auto w = static_cast<int64_t>(std::lround(input.size(3) * v.scale));
      x = torch::nn::functional::interpolate(
          x, torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBilinear).align_corners(false));
    }
    torch::Tensor p = to_probs(model.forward(x).logits, task);
    if (task == Task::Segmentation && !v.flip_dims.empty()) p = p.flip(v.flip_dims);
    sum = sum.defined() ? sum + p : p;
  }
  return sum / static_cast<double>(all.size());
}

}  // namespace xp
