// xp's multi-tensor optimizers against LibTorch's per-parameter ones: the same parameters and
// gradients, step by step, must give the same weights; checkpoints load across the two.
#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <sstream>

#include <torch/torch.h>

#include "engine/foreach_optimizers.h"

namespace {

using xp::engine::ForeachAdam;
using xp::engine::ForeachAdamW;
using xp::engine::ForeachSGD;

// Parameters of mixed shapes (a 4-d channels_last one too) with the same values in both copies.
std::vector<torch::Tensor> make_params(int64_t seed) {
  torch::manual_seed(seed);
  std::vector<torch::Tensor> out{torch::randn({8, 3, 3, 3}).contiguous(torch::MemoryFormat::ChannelsLast),
                                 torch::randn({8}), torch::randn({5, 8}), torch::randn({5}), torch::randn({7})};
  for (auto& p : out) p.set_requires_grad(true);
  return out;
}

std::vector<torch::Tensor> clone_params(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> out;
  for (const auto& p : params) out.push_back(p.detach().clone().set_requires_grad(true));
  return out;
}

// Deterministic gradients for step `step`; the last parameter gets none on odd steps (a frozen or
// unused parameter), so its state lags behind the others'.
void set_grads(std::vector<torch::Tensor>& params, int step) {
  for (size_t i = 0; i < params.size(); ++i) {
    auto& p = params[i];
    if (i + 1 == params.size() && step % 2 == 1) {
      p.mutable_grad() = torch::Tensor();
      continue;
    }
    torch::manual_seed(1000 * step + static_cast<int64_t>(i));
    p.mutable_grad() = torch::randn(p.sizes()).contiguous(p.suggest_memory_format());
  }
}

double max_difference(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, (a[i] - b[i]).abs().max().item<double>());
  return worst;
}

// Two parameter groups (the second with its own lr and no weight decay), as build_optimizer makes.
template <typename Opt, typename Options>
std::unique_ptr<torch::optim::Optimizer> make(std::vector<torch::Tensor>& params, const Options& options) {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{params[0], params[2], params[4]},
                      std::make_unique<Options>(options));
  auto second = std::make_unique<Options>(options);
  second->lr(options.lr() * 0.5);
  second->weight_decay(0.0);
  groups.emplace_back(std::vector<torch::Tensor>{params[1], params[3]}, std::move(second));
  return std::make_unique<Opt>(groups, options);
}

template <typename Reference, typename Foreach, typename Options>
void check_matches(const Options& options, int steps = 6) {
  auto ref_params = make_params(7);
  auto our_params = clone_params(ref_params);
  auto reference = make<Reference>(ref_params, options);
  auto ours = make<Foreach>(our_params, options);
  for (int s = 0; s < steps; ++s) {
    set_grads(ref_params, s);
    set_grads(our_params, s);
    reference->step();
    ours->step();
    INFO("step " << s);
    CHECK(max_difference(ref_params, our_params) <= 1e-6);
  }
  // The weights moved: a no-op optimizer would pass the comparison above.
  CHECK(max_difference(ref_params, make_params(7)) > 1e-3);
}

// Saves `from` after a few steps, loads it into `to` (over the same values), and checks both then
// take identical steps: the momentum / moment buffers travelled.
template <typename From, typename To, typename Options>
void check_checkpoint_round_trip(const Options& options) {
  auto a_params = make_params(3);
  auto a = make<From>(a_params, options);
  for (int s = 0; s < 3; ++s) {
    set_grads(a_params, s);
    a->step();
  }
  std::stringstream buffer;
  {
    torch::serialize::OutputArchive archive;
    a->save(archive);
    archive.save_to(buffer);
  }
  auto b_params = clone_params(a_params);
  auto b = make<To>(b_params, options);
  torch::serialize::InputArchive archive;
  archive.load_from(buffer);
  b->load(archive);
  for (int s = 3; s < 6; ++s) {
    set_grads(a_params, s);
    set_grads(b_params, s);
    a->step();
    b->step();
  }
  CHECK(max_difference(a_params, b_params) <= 1e-6);
}

}  // namespace

TEST_CASE("foreach SGD: plain, momentum, nesterov, dampening and weight decay match torch::optim::SGD") {
  using O = torch::optim::SGDOptions;
  SUBCASE("plain") { check_matches<torch::optim::SGD, ForeachSGD>(O(0.1)); }
  SUBCASE("momentum + weight decay") { check_matches<torch::optim::SGD, ForeachSGD>(O(0.1).momentum(0.9).weight_decay(1e-2)); }
  SUBCASE("nesterov") { check_matches<torch::optim::SGD, ForeachSGD>(O(0.05).momentum(0.8).nesterov(true)); }
  SUBCASE("dampening") { check_matches<torch::optim::SGD, ForeachSGD>(O(0.05).momentum(0.9).dampening(0.3)); }
}

TEST_CASE("foreach Adam and AdamW match LibTorch's, parameters with lagging step counts included") {
  check_matches<torch::optim::Adam, ForeachAdam>(torch::optim::AdamOptions(1e-2).weight_decay(1e-2), 8);
  check_matches<torch::optim::Adam, ForeachAdam>(torch::optim::AdamOptions(1e-2).amsgrad(true), 8);
  check_matches<torch::optim::AdamW, ForeachAdamW>(
      torch::optim::AdamWOptions(1e-2).weight_decay(0.05).betas({0.8, 0.99}).eps(1e-6), 8);
}

TEST_CASE("foreach optimizers: checkpoints load across xp's and LibTorch's classes") {
  check_checkpoint_round_trip<ForeachSGD, torch::optim::SGD>(torch::optim::SGDOptions(0.1).momentum(0.9));
  check_checkpoint_round_trip<torch::optim::SGD, ForeachSGD>(torch::optim::SGDOptions(0.1).momentum(0.9));
  check_checkpoint_round_trip<ForeachAdamW, torch::optim::AdamW>(torch::optim::AdamWOptions(1e-2).weight_decay(0.01));
  check_checkpoint_round_trip<torch::optim::Adam, ForeachAdam>(torch::optim::AdamOptions(1e-2));
}

TEST_CASE("foreach optimizers: a group whose parameters have no gradient is left alone") {
  auto params = make_params(5);
  auto before = clone_params(params);
  ForeachAdamW opt(params, torch::optim::AdamWOptions(0.1).weight_decay(0.1));
  opt.step();  // no gradients at all: neither the update nor the decoupled decay may touch them
  CHECK(max_difference(params, before) == 0.0);
  CHECK(opt.state().empty());
}

// LibTorch's save() and load() static_cast each state to the optimizer's own state type; a state
// of another type is undefined behaviour (UBSan's vptr check found ForeachAdamW keeping Adam's).
TEST_CASE("foreach optimizers: each keeps its LibTorch class's state type") {
  auto check = [](auto& opt, auto* expected_type, auto& params) {
    set_grads(params, 0);
    opt.step();
    REQUIRE(!opt.state().empty());
    for (const auto& [key, state] : opt.state()) {
      (void)key;
      CHECK(dynamic_cast<decltype(expected_type)>(state.get()) != nullptr);
    }
  };
  auto adamw_params = make_params(2);
  ForeachAdamW adamw(adamw_params, torch::optim::AdamWOptions(1e-2));
  check(adamw, static_cast<torch::optim::AdamWParamState*>(nullptr), adamw_params);
  auto adam_params = make_params(2);
  ForeachAdam adam(adam_params, torch::optim::AdamOptions(1e-2));
  check(adam, static_cast<torch::optim::AdamParamState*>(nullptr), adam_params);
  auto sgd_params = make_params(2);
  ForeachSGD sgd(sgd_params, torch::optim::SGDOptions(0.1).momentum(0.9));
  check(sgd, static_cast<torch::optim::SGDParamState*>(nullptr), sgd_params);
}
