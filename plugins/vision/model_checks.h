#pragma once
// Checks shared by the vision models: a model built with num_classes still 0 was not wired to a
// dataset, and an input of the wrong rank or channel count should name the model and the shapes
// instead of failing deep inside a convolution.

#include <stdexcept>
#include <string>

#include <torch/types.h>

namespace xp::vision {

inline int64_t require_num_classes(int64_t num_classes, const std::string& model) {
  if (num_classes <= 0)
    throw std::invalid_argument(model + ": num_classes is 0 and no dataset supplied it; set num_classes");
  return num_classes;
}

inline std::string shape_string(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

inline void check_image_input(const torch::Tensor& x, int64_t channels, const std::string& model) {
  if (x.dim() != 4 || x.size(1) != channels)
    throw std::invalid_argument(model + " expects input [B, " + std::to_string(channels) + ", H, W], got " +
                                shape_string(x) + " (check in_channels and the dataset's channels)");
}

}  // namespace xp::vision
