#pragma once
// A torch::nn::Module tree that mirrors a TorchScript module: the same children under the same
// names, registering the jit module's own parameter and buffer tensors (the same TensorImpl, not
// copies). Everything xp does through torch::nn::Module — named_parameters() for the optimizer and
// freeze globs, save/load for checkpoints, to(device), EMA's in-place copies — then acts on the
// tensors the jit module computes with, because those operations change tensors in place
// (set_data, set_, copy_, requires_grad on the impl).

#include <memory>

#include <torch/csrc/jit/api/module.h>
#include <torch/nn/module.h>

namespace xp::torchscript {

std::shared_ptr<torch::nn::Module> mirror_jit_module(const torch::jit::Module& module);

// True when every parameter and buffer of `mirror` is still the tensor the jit module holds under
// that name: a scripted forward that assigns a new tensor to an attribute (instead of updating it
// in place) would silently detach the two.
bool mirror_is_current(const torch::nn::Module& mirror, const torch::jit::Module& module);

}  // namespace xp::torchscript
