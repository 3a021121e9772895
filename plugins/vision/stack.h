#pragma once
// nn::Sequential cannot hold another nn::Sequential (its forward is a template, which AnyModule
// cannot store), so blocks that are themselves sequences use this subclass with a plain forward.

#include <torch/nn/modules/container/sequential.h>

namespace xp::vision {

class StackImpl : public torch::nn::SequentialImpl {
 public:
  using SequentialImpl::SequentialImpl;
  torch::Tensor forward(torch::Tensor x) { return SequentialImpl::forward(std::move(x)); }
};
TORCH_MODULE(Stack);

}  // namespace xp::vision
