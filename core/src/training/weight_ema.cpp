#include "training/weight_ema.h"

#include <algorithm>
#include <stdexcept>

namespace xp {

namespace {
std::map<std::string, torch::Tensor> named_state(const torch::nn::Module& model) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : model.named_parameters()) out["p:" + p.key()] = p.value();
  for (const auto& b : model.named_buffers()) out["b:" + b.key()] = b.value();
  return out;
}
}  // namespace

WeightEma::WeightEma(const torch::nn::Module& model, double decay) : decay_(decay) {
  torch::NoGradGuard no_grad;
  for (const auto& [name, t] : named_state(model)) shadow_[name] = t.detach().clone();
}

void WeightEma::update(const torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  ++updates_;
  const double d = std::min(decay_, (1.0 + static_cast<double>(updates_)) / (10.0 + static_cast<double>(updates_)));
  for (const auto& [name, t] : named_state(model)) {
    auto it = shadow_.find(name);
    if (it == shadow_.end()) throw std::logic_error("WeightEma: model gained tensor " + name);
    if (name[0] == 'p' && t.is_floating_point()) {
      it->second.mul_(d).add_(t.detach(), 1.0 - d);
    } else {
      it->second.copy_(t.detach());
    }
  }
}

void WeightEma::swap(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : named_state(model)) {
    auto& s = shadow_.at(name);
    auto tmp = t.detach().clone();
    t.detach().copy_(s);
    s.copy_(tmp);
  }
}

void WeightEma::load_state(const std::map<std::string, torch::Tensor>& state, int64_t updates) {
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : shadow_) {
    auto it = state.find(name);
    if (it == state.end()) throw std::runtime_error("EMA state lacks " + name);
    t.copy_(it->second);
  }
  updates_ = updates;
}

}  // namespace xp
