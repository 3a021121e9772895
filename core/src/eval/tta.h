#pragma once
// Test-time augmentation: the mean of the probabilities the model gives for several views of the
// input, each mapped back to the original geometry (flipped masks are flipped back).

#include <string>
#include <vector>

#include "xp/dataset.h"
#include "xp/model.h"

namespace xp {

// "none", "hflip" (identity + horizontal flip), "flips" (identity, h, v, hv), "multiscale"
// (classification: 0.875x, 1x, 1.125x resized inputs) or "five_crop" (classification: the centre
// and the four corners, 87.5% of each side, resized back to the input size). Throws
// xp::ConfigError naming the valid modes.
void check_tta_mode(const std::string& mode);
const std::vector<std::string>& tta_modes();

// Classification: softmax probabilities [B, K]. Segmentation (binary, 1 channel): sigmoid [B, 1, H, W];
// multi-channel segmentation: softmax over channels.
torch::Tensor predict_probabilities(Model& model, const torch::Tensor& input, Task task, const std::string& mode);

}  // namespace xp
