// On a CUDA machine (ctest label `gpu`): mixed precision really runs in the low precision, a small
// network's loss goes down over a few AMP steps in bf16 and in fp16 with loss scaling, and the fp16
// scaler skips a step whose gradients overflowed.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <torch/torch.h>

#include "engine/mixed_precision.h"

using namespace xp::engine;

namespace {

double train_steps(c10::ScalarType dtype, int steps) {
  torch::manual_seed(0);
  torch::Device cuda(torch::kCUDA);
  torch::nn::Sequential net(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 16, 3).padding(1)), torch::nn::ReLU(),
                            torch::nn::AdaptiveAvgPool2d(1), torch::nn::Flatten(), torch::nn::Linear(16, 4));
  net->to(cuda);
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  auto x = torch::randn({64, 3, 16, 16}, cuda);
  auto y = torch::randint(0, 4, {64}, torch::TensorOptions(cuda).dtype(torch::kLong));
  // Make the task learnable: the class shifts the image mean.
  x = x + y.view({-1, 1, 1, 1}).to(torch::kFloat);
  std::unique_ptr<DynamicLossScaler> scaler;
  if (dtype == torch::kHalf) scaler = std::make_unique<DynamicLossScaler>();
  double first = 0, last = 0;
  for (int i = 0; i < steps; ++i) {
    torch::Tensor loss;
    {
      AutocastScope autocast(dtype, torch::kCUDA);
      auto logits = net->forward(x);
      if (dtype != torch::kFloat) CHECK((logits.scalar_type() == dtype));
      loss = torch::nn::functional::cross_entropy(logits.to(torch::kFloat), y);
    }
    if (i == 0) first = loss.item<double>();
    last = loss.item<double>();
    opt.zero_grad();
    (scaler ? scaler->scale(loss) : loss).backward();
    if (scaler) {
      const bool finite = scaler->unscale(net->parameters());
      scaler->update(finite);
      if (!finite) continue;
    }
    opt.step();
  }
  MESSAGE("dtype " << c10::toString(dtype) << ": loss " << first << " -> " << last);
  return last / first;
}

}  // namespace

TEST_CASE("amp on CUDA: loss decreases in bf16 and fp16") {
  REQUIRE_MESSAGE(torch::cuda::is_available(), "this test needs a CUDA device");
  CHECK(train_steps(torch::kBFloat16, 40) < 0.5);
  CHECK(train_steps(torch::kHalf, 40) < 0.5);
  CHECK(train_steps(torch::kFloat, 40) < 0.5);
}

TEST_CASE("amp on CUDA: an overflowing fp16 step is skipped and the scale backs off") {
  REQUIRE(torch::cuda::is_available());
  torch::Device cuda(torch::kCUDA);
  DynamicLossScaler scaler;
  auto w = torch::ones({4}, torch::TensorOptions(cuda).requires_grad(true));
  // 1e5 * 65536 overflows fp16 once cast: the gradient becomes inf.
  {
    AutocastScope autocast(torch::kHalf, torch::kCUDA);
    auto loss = (w.to(torch::kHalf) * 1e5).sum();
    scaler.scale(loss).backward();
  }
  const bool finite = scaler.unscale({w});
  CHECK_FALSE(finite);
  scaler.update(finite);
  CHECK(scaler.current_scale() == 32768.0);
  CHECK(scaler.skipped_steps() == 1);
}
