#include "engine/foreach_optimizers.h"

#include <cmath>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <ATen/ATen.h>
#include <torch/autograd.h>

namespace xp::engine {

namespace {

// The key LibTorch's optimizers file a parameter's state under: the TensorImpl address, as a
// string in LibTorch 1.x and as the pointer itself in 2.x. Deduced from the map so that both build.
template <typename StateMap>
typename StateMap::key_type state_key(const StateMap&, const torch::Tensor& p) {
  using Key = typename StateMap::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream os;
    os << p.unsafeGetTensorImpl();
    return os.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

torch::Tensor run_closure(const torch::optim::Optimizer::LossClosure& closure) {
  if (!closure) return {};
  at::AutoGradMode enable_grad(true);
  return closure();
}

// A group's parameters that have a gradient, and the gradients.
struct WithGrad {
  std::vector<torch::Tensor> params, grads;
};

WithGrad with_grad(const std::vector<torch::Tensor>& params) {
  WithGrad out;
  for (const auto& p : params) {
    if (!p.grad().defined()) continue;
    if (p.grad().is_sparse()) throw std::invalid_argument("xp's optimizers do not support sparse gradients");
    out.params.push_back(p);
    out.grads.push_back(p.grad());
  }
  return out;
}

}  // namespace

torch::Tensor ForeachSGD::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss = run_closure(closure);
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const torch::optim::SGDOptions&>(group.options());
    WithGrad g = with_grad(group.params());
    if (g.params.empty()) continue;
    std::vector<torch::Tensor> d_p = o.weight_decay() != 0 ? at::_foreach_add(g.grads, g.params, o.weight_decay())
                                                           : g.grads;
    if (o.momentum() != 0) {
      // Existing buffers are updated together; a parameter's first step starts its buffer at d_p.
      std::vector<torch::Tensor> bufs, bufs_d_p;
      std::vector<size_t> where;
      for (size_t i = 0; i < g.params.size(); ++i) {
        const auto key = state_key(state_, g.params[i]);
        auto it = state_.find(key);
        if (it == state_.end()) {
          auto state = std::make_unique<torch::optim::SGDParamState>();
          state->momentum_buffer(torch::clone(d_p[i]).detach());
          state_[key] = std::move(state);
          continue;
        }
        bufs.push_back(static_cast<torch::optim::SGDParamState&>(*it->second).momentum_buffer());
        bufs_d_p.push_back(d_p[i]);
        where.push_back(i);
      }
      if (!bufs.empty()) {
        at::_foreach_mul_(bufs, o.momentum());
        at::_foreach_add_(bufs, bufs_d_p, 1 - o.dampening());
      }
      // Every parameter's buffer, in order (new ones included).
      std::vector<torch::Tensor> all_bufs(g.params.size());
      for (size_t i = 0; i < g.params.size(); ++i)
        all_bufs[i] = static_cast<torch::optim::SGDParamState&>(*state_.at(state_key(state_, g.params[i])))
                          .momentum_buffer();
      d_p = o.nesterov() ? at::_foreach_add(d_p, all_bufs, o.momentum()) : all_bufs;
    }
    at::_foreach_add_(g.params, d_p, -o.lr());
  }
  return loss;
}

namespace {

// The Adam update shared by Adam (L2 added to the gradient) and AdamW (decoupled decay applied to
// the weights by the caller). Parameters are bucketed by their step count, which sets the bias
// correction: all share it unless some were frozen for a while. `State` is the optimizer's own
// state type (AdamParamState or AdamWParamState): LibTorch's save/load cast to it, so a state of
// the other type would be a bad downcast (UBSan's "vptr" check caught one in an AdamW run).
template <typename State, typename Options, typename StateMap>
void adam_update(StateMap& state_map, const Options& o, WithGrad g, bool l2) {
  const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
  std::map<int64_t, std::vector<size_t>> by_step;
  std::vector<State*> states(g.params.size());
  for (size_t i = 0; i < g.params.size(); ++i) {
    const auto key = state_key(state_map, g.params[i]);
    auto it = state_map.find(key);
    if (it == state_map.end()) {
      auto state = std::make_unique<State>();
      state->step(0);
      state->exp_avg(torch::zeros_like(g.params[i], torch::MemoryFormat::Preserve));
      state->exp_avg_sq(torch::zeros_like(g.params[i], torch::MemoryFormat::Preserve));
      if (o.amsgrad()) state->max_exp_avg_sq(torch::zeros_like(g.params[i], torch::MemoryFormat::Preserve));
      it = state_map.emplace(key, std::move(state)).first;
    }
    states[i] = static_cast<State*>(it->second.get());
    states[i]->step(states[i]->step() + 1);
    by_step[states[i]->step()].push_back(i);
  }
  for (const auto& [step, members] : by_step) {
    std::vector<torch::Tensor> params, grads, exp_avg, exp_avg_sq;
    for (size_t i : members) {
      params.push_back(g.params[i]);
      grads.push_back(g.grads[i]);
      exp_avg.push_back(states[i]->exp_avg());
      exp_avg_sq.push_back(states[i]->exp_avg_sq());
    }
    const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(step));
    const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(step));
    if (l2 && o.weight_decay() != 0) grads = at::_foreach_add(grads, params, o.weight_decay());
    at::_foreach_mul_(exp_avg, beta1);
    at::_foreach_add_(exp_avg, grads, 1 - beta1);
    at::_foreach_mul_(exp_avg_sq, beta2);
    at::_foreach_addcmul_(exp_avg_sq, grads, grads, 1 - beta2);
    std::vector<torch::Tensor> second = exp_avg_sq;
    if (o.amsgrad()) {
      second.clear();
      for (size_t i : members) {
        torch::Tensor m = states[i]->max_exp_avg_sq();  // a handle: max_out writes its storage
        torch::max_out(m, m, states[i]->exp_avg_sq());
        second.push_back(m);
      }
    }
    std::vector<torch::Tensor> denom = at::_foreach_sqrt(second);
    at::_foreach_div_(denom, std::sqrt(bias_correction2));
    at::_foreach_add_(denom, o.eps());
    at::_foreach_addcdiv_(params, exp_avg, denom, -o.lr() / bias_correction1);
  }
}

}  // namespace

torch::Tensor ForeachAdam::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss = run_closure(closure);
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const torch::optim::AdamOptions&>(group.options());
    WithGrad g = with_grad(group.params());
    if (!g.params.empty()) adam_update<torch::optim::AdamParamState>(state_, o, std::move(g), /*l2=*/true);
  }
  return loss;
}

torch::Tensor ForeachAdamW::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss = run_closure(closure);
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
    WithGrad g = with_grad(group.params());
    if (g.params.empty()) continue;
    if (o.weight_decay() != 0) at::_foreach_mul_(g.params, 1 - o.lr() * o.weight_decay());
    adam_update<torch::optim::AdamWParamState>(state_, o, std::move(g), /*l2=*/false);
  }
  return loss;
}

}  // namespace xp::engine
