#include "engine/param_groups.h"

#include <map>

#include "engine/foreach_optimizers.h"
#include "xp/base/suggest.h"
#include "xp/errors.h"

namespace xp::engine {

namespace {

std::unique_ptr<torch::optim::OptimizerOptions> make_options(const OptimizerOptions& o, double weight_decay) {
  if (o.name == "sgd")
    return std::make_unique<torch::optim::SGDOptions>(
        torch::optim::SGDOptions(o.lr).momentum(o.momentum).nesterov(o.nesterov).weight_decay(weight_decay));
  const double b1 = o.betas.size() > 0 ? o.betas[0] : 0.9, b2 = o.betas.size() > 1 ? o.betas[1] : 0.999;
  if (o.name == "adam")
    return std::make_unique<torch::optim::AdamOptions>(
        torch::optim::AdamOptions(o.lr).betas({b1, b2}).eps(o.eps).weight_decay(weight_decay));
  if (o.name == "adamw")
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(o.lr).betas({b1, b2}).eps(o.eps).weight_decay(weight_decay));
  throw ConfigError("unknown optimizer '" + o.name + "'" + did_you_mean(o.name, {"sgd", "adam", "adamw"}));
}

bool matches_any(const std::vector<std::string>& globs, const std::string& name) {
  for (const auto& g : globs)
    if (glob_match(g, name)) return true;
  return false;
}

std::vector<std::string> names_of(const NamedParameters& params) {
  std::vector<std::string> out;
  for (const auto& p : params) out.push_back(p.first);
  return out;
}

void check_globs_match(const std::vector<std::string>& globs, const NamedParameters& params, const std::string& what) {
  for (const auto& g : globs) {
    bool any = false;
    for (const auto& p : params) any = any || glob_match(g, p.first);
    if (!any) {
      std::string example = params.empty() ? "" : " (parameters are named like '" + params.front().first + "')";
      throw ConfigError(what + " pattern '" + g + "' matches no parameter" + example +
                        did_you_mean(g, names_of(params)));
    }
  }
}

}  // namespace

OptimizerWithGroups build_optimizer(const OptimizerOptions& o, const NamedParameters& params) {
  for (size_t i = 0; i < o.groups.size(); ++i)
    check_globs_match(o.groups[i].params, params, "train.optimizer.groups[" + std::to_string(i) + "]");
  // (group index or -1 for default, no_decay) -> parameters, in first-seen order.
  std::vector<std::pair<std::pair<int, bool>, std::vector<torch::Tensor>>> buckets;
  auto bucket = [&](int g, bool no_decay) -> std::vector<torch::Tensor>& {
    for (auto& b : buckets)
      if (b.first == std::make_pair(g, no_decay)) return b.second;
    buckets.push_back({{g, no_decay}, {}});
    return buckets.back().second;
  };
  for (const auto& [name, p] : params) {
    int group = -1;
    for (size_t i = 0; i < o.groups.size() && group < 0; ++i)
      if (matches_any(o.groups[i].params, name)) group = static_cast<int>(i);
    // Biases and norm scales are one-dimensional; decaying them only hurts.
    const bool no_decay = o.no_decay_norm_bias && p.dim() <= 1;
    bucket(group, no_decay).push_back(p);
  }
  OptimizerWithGroups out;
  std::vector<torch::optim::OptimizerParamGroup> groups;
  for (auto& [key, tensors] : buckets) {
    const auto [g, no_decay] = key;
    double wd = o.weight_decay, scale = 1.0;
    if (g >= 0) {
      if (o.groups[g].weight_decay >= 0) wd = o.groups[g].weight_decay;
      scale = o.groups[g].lr_scale;
    }
    if (no_decay) wd = 0.0;
    auto options = make_options(o, wd);
    options->set_lr(o.lr * scale);
    groups.emplace_back(tensors, std::move(options));
    out.lr_scale.push_back(scale);
    out.group_names.push_back((g < 0 ? std::string("default") : "group" + std::to_string(g)) +
                              (no_decay ? ":no_decay" : ""));
  }
  auto defaults = make_options(o, o.weight_decay);
  if (o.name == "sgd")
    out.optimizer = std::make_unique<ForeachSGD>(groups, static_cast<torch::optim::SGDOptions&>(*defaults));
  else if (o.name == "adam")
    out.optimizer = std::make_unique<ForeachAdam>(groups, static_cast<torch::optim::AdamOptions&>(*defaults));
  else
    out.optimizer = std::make_unique<ForeachAdamW>(groups, static_cast<torch::optim::AdamWOptions&>(*defaults));
  return out;
}

void set_learning_rate(OptimizerWithGroups& opt, double base_lr) {
  auto& groups = opt.optimizer->param_groups();
  for (size_t i = 0; i < groups.size(); ++i) groups[i].options().set_lr(base_lr * opt.lr_scale[i]);
}

size_t apply_freeze(const NamedParameters& params, const std::vector<std::string>& globs) {
  check_globs_match(globs, params, "train.stages.freeze");
  size_t frozen = 0;
  for (const auto& [name, p] : params) {
    const bool freeze = matches_any(globs, name);
    auto t = p;  // shares storage; requires_grad is a property of the tensor impl
    t.set_requires_grad(!freeze);
    if (freeze) {
      t.mutable_grad() = torch::Tensor();
      ++frozen;
    }
  }
  return frozen;
}

void clear_gradients(const NamedParameters& params) {
  for (const auto& [name, p] : params) {
    (void)name;
    auto t = p;
    if (t.grad().defined()) t.mutable_grad() = torch::Tensor();
  }
}

}  // namespace xp::engine
