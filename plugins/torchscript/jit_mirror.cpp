#include "jit_mirror.h"

#include <map>
#include <string>

namespace xp::torchscript {

std::shared_ptr<torch::nn::Module> mirror_jit_module(const torch::jit::Module& module) {
  auto mirror = std::make_shared<torch::nn::Module>("TorchScript");
  // Every parameter trains by default, whatever requires_grad it was exported with: freezing is the
  // experiment's business (train.stages), not the export's.
  for (const auto& p : module.named_parameters(/*recurse=*/false)) mirror->register_parameter(p.name, p.value, true);
  for (const auto& b : module.named_buffers(/*recurse=*/false)) mirror->register_buffer(b.name, b.value);
  for (const auto& child : module.named_children()) mirror->register_module(child.name, mirror_jit_module(child.value));
  return mirror;
}

bool mirror_is_current(const torch::nn::Module& mirror, const torch::jit::Module& module) {
  std::map<std::string, const c10::TensorImpl*> held;
  for (const auto& p : module.named_parameters()) held[p.name] = p.value.unsafeGetTensorImpl();
  for (const auto& b : module.named_buffers()) held[b.name] = b.value.unsafeGetTensorImpl();
  size_t seen = 0;
  auto same = [&](const std::string& name, const torch::Tensor& t) {
    ++seen;
    auto it = held.find(name);
    return it != held.end() && it->second == t.unsafeGetTensorImpl();
  };
  for (const auto& p : mirror.named_parameters())
    if (!same(p.key(), p.value())) return false;
  for (const auto& b : mirror.named_buffers())
    if (!same(b.key(), b.value())) return false;
  return seen == held.size();
}

}  // namespace xp::torchscript
