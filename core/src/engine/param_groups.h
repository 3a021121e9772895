#pragma once
// The optimizer and its parameter groups, built from [train.optimizer]: groups selected by globs
// on dotted parameter names (discriminative learning rates), norm weights and biases kept out of
// weight decay, and freezing by glob for staged training.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "engine/train_options.h"

namespace xp::engine {

using NamedParameters = std::vector<std::pair<std::string, torch::Tensor>>;

struct OptimizerWithGroups {
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::vector<double> lr_scale;            // per torch param group
  std::vector<std::string> group_names;    // "default", "group0:no_decay", ... for logs
};

// Every parameter lands in exactly one torch param group. Throws xp::ConfigError for a group
// whose globs match no parameter (almost always a typo in the experiment).
OptimizerWithGroups build_optimizer(const OptimizerOptions& options, const NamedParameters& params);

// Sets every group's lr to base_lr * its scale.
void set_learning_rate(OptimizerWithGroups& opt, double base_lr);

// requires_grad = false for parameters matching any glob, true for the rest; drops gradients of
// frozen ones so that no optimizer (momentum, weight decay) touches them. Returns how many
// parameters are frozen. Throws xp::ConfigError for a glob that matches nothing.
size_t apply_freeze(const NamedParameters& params, const std::vector<std::string>& globs);

// Gradients to "none", so that parameters without a gradient next step are skipped entirely.
void clear_gradients(const NamedParameters& params);

}  // namespace xp::engine
