#pragma once
#include <torch/nn/module.h>

#include "xp/model.h"
#include "xp/sample.h"

namespace xp {

// Kind "loss": a scalar to minimise. A classification loss must honour batch.soft_target when it
// is defined (mixup/cutmix). A module so that losses with learnable state work (rarely needed).
class Loss : public torch::nn::Module {
 public:
  static constexpr const char* kKind = "loss";
  virtual torch::Tensor forward(const ModelOutput& output, const Batch& batch) = 0;
};

}  // namespace xp
