#include "first_conv.h"

#include <stdexcept>

#include <torch/torch.h>

#include "xp/base/suggest.h"

namespace xp::torchscript {

namespace {

std::string shape_string(torch::IntArrayRef sizes) {
  std::string s = "[";
  for (size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
  return s + "]";
}

std::vector<std::string> submodule_names(const torch::jit::Module& m) {
  std::vector<std::string> names;
  for (const auto& c : m.named_children()) names.push_back(c.name);
  return names;
}

}  // namespace

std::string find_first_conv(const torch::jit::Module& module, int64_t pretrained) {
  for (const auto& p : module.named_parameters())
    if (p.value.dim() == 4 && p.value.size(1) == pretrained) return p.name;
  return "";
}

void extend_first_conv(torch::jit::Module& module, const std::string& name, int64_t pretrained, int64_t bands) {
  // Walk to the submodule that owns the parameter ("stem.conv.weight" -> stem.conv, "weight").
  torch::jit::Module owner = module;
  std::string rest = name;
  for (size_t dot; (dot = rest.find('.')) != std::string::npos; rest = rest.substr(dot + 1)) {
    const std::string child = rest.substr(0, dot);
    if (!owner.hasattr(child) || !owner.attr(child).isModule())
      throw std::invalid_argument("first_conv '" + name + "': the module has no submodule '" + child + "'" +
                                  xp::did_you_mean(child, submodule_names(owner)));
    owner = owner.attr(child).toModule();
  }
  if (!owner.hasattr(rest) || !owner.attr(rest).isTensor() || !owner.type()->hasAttribute(rest) ||
      !owner.type()->is_parameter(owner.type()->getAttributeSlot(rest))) {
    std::vector<std::string> names;
    for (const auto& p : module.named_parameters()) names.push_back(p.name);
    throw std::invalid_argument("first_conv '" + name + "' is not a parameter of the module" +
                                xp::did_you_mean(name, names));
  }
  torch::Tensor weight = owner.attr(rest).toTensor();
  if (weight.dim() != 4 || weight.size(1) != pretrained)
    throw std::invalid_argument("first_conv '" + name + "' is " + shape_string(weight.sizes()) +
                                ", not a convolution weight [out, " + std::to_string(pretrained) +
                                ", kh, kw] over input_size[0] = " + std::to_string(pretrained) + " bands");
  torch::NoGradGuard no_grad;
  torch::Tensor mean = weight.mean(1, /*keepdim=*/true);
  torch::Tensor extended = torch::cat({weight, mean.expand({-1, bands - pretrained, -1, -1})}, 1).contiguous();
  // A new tensor in the same slot: the mirror (built afterwards) registers this one.
  owner.register_parameter(rest, extended, /*is_buffer=*/false);
}

}  // namespace xp::torchscript
