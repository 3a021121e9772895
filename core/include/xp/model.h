#pragma once
#include <map>
#include <string>

#include <torch/nn/module.h>
#include <torch/types.h>

namespace xp {

// What a model returns: the main logits plus named auxiliary outputs (deep supervision heads,
// per-level heads of a hierarchical model, pooled features).
struct ModelOutput {
  torch::Tensor logits;
  std::map<std::string, torch::Tensor> aux;
};

// Kind "model". Submodules registered with register_module() get dotted names ("backbone.0.conv")
// that staged training and parameter groups select by prefix or glob.
class Model : public torch::nn::Module {
 public:
  static constexpr const char* kKind = "model";
  virtual ModelOutput forward(const torch::Tensor& input) = 0;
};

}  // namespace xp
