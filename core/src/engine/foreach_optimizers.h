#pragma once
// SGD, Adam and AdamW whose step updates all parameters of a group with the multi-tensor
// (`_foreach_*`) kernels, as torch.optim does by default on CUDA: one launch per operation and
// group instead of one per operation and parameter. LibTorch's C++ optimizers loop over the
// parameters, which on a GPU costs about five kernel launches per tensor (800+ for a resnet50) and
// left xp's step 3 % behind Python's.
//
// Each class derives from its LibTorch optimizer and replaces only step(): options, parameter
// groups, per-parameter state and serialization are LibTorch's, so checkpoints written by either
// load in the other and the update is the same arithmetic (tests/unit/test_foreach_optimizers.cpp
// checks it step by step against LibTorch's own).

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

namespace xp::engine {

class ForeachSGD : public torch::optim::SGD {
 public:
  using torch::optim::SGD::SGD;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

class ForeachAdam : public torch::optim::Adam {
 public:
  using torch::optim::Adam::Adam;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

class ForeachAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

}  // namespace xp::engine
