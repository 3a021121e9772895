// Mixed precision building blocks on CPU: precision names, the dynamic loss scaler's arithmetic
// (unscale, overflow detection, backoff, growth), which precision each device gets, autocast being a
// no-op for fp32 and computing in bf16 on the CPU.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "engine/mixed_precision.h"
#include "xp/errors.h"

using namespace xp::engine;

TEST_CASE("precision: names map to autocast dtypes; others are config errors") {
  CHECK((precision_dtype("fp32") == torch::kFloat));
  CHECK((precision_dtype("fp16") == torch::kHalf));
  CHECK((precision_dtype("bf16") == torch::kBFloat16));
  CHECK_THROWS_AS(precision_dtype("fp8"), xp::ConfigError);
}

TEST_CASE("loss scaler: unscale divides gradients by the scale") {
  DynamicLossScaler scaler({/*init_scale=*/1024.0, 2.0, 0.5, 3});
  auto w = torch::ones({3}, torch::requires_grad());
  auto loss = (w * torch::tensor({1.0f, 2.0f, 3.0f})).sum();
  scaler.scale(loss).backward();
  CHECK(w.grad()[2].item<float>() == doctest::Approx(3.0 * 1024));
  CHECK(scaler.unscale({w}));
  CHECK(w.grad()[0].item<float>() == doctest::Approx(1.0));
  CHECK(w.grad()[2].item<float>() == doctest::Approx(3.0));
}

TEST_CASE("loss scaler: a non-finite gradient skips the step and halves the scale") {
  for (float bad : {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
    DynamicLossScaler scaler({1024.0, 2.0, 0.5, 3});
    auto a = torch::zeros({2}, torch::requires_grad());
    auto b = torch::zeros({2}, torch::requires_grad());
    a.mutable_grad() = torch::ones({2});
    b.mutable_grad() = torch::tensor({1.0f, bad});
    const bool finite = scaler.unscale({a, b});
    CHECK_FALSE(finite);
    scaler.update(finite);
    CHECK(scaler.current_scale() == 512.0);
    CHECK(scaler.skipped_steps() == 1);
  }
}

TEST_CASE("loss scaler: grows after growth_interval finite steps, and a skip resets the count") {
  DynamicLossScaler scaler({8.0, 2.0, 0.5, 3});
  scaler.update(true);
  scaler.update(true);
  CHECK(scaler.current_scale() == 8.0);
  scaler.update(true);
  CHECK(scaler.current_scale() == 16.0);
  scaler.update(true);
  scaler.update(false);  // backoff, count restarts
  CHECK(scaler.current_scale() == 8.0);
  scaler.update(true);
  scaler.update(true);
  CHECK(scaler.current_scale() == 8.0);
  scaler.update(true);
  CHECK(scaler.current_scale() == 16.0);
  CHECK(scaler.skipped_steps() == 1);
}

TEST_CASE("loss scaler: parameters without gradients are ignored") {
  DynamicLossScaler scaler;
  auto w = torch::zeros({2}, torch::requires_grad());
  CHECK(scaler.unscale({w}));
}

TEST_CASE("autocast: fp32 scope changes nothing") {
  auto x = torch::randn({2, 3});
  AutocastScope scope(torch::kFloat, torch::kCPU);
  CHECK((torch::matmul(x, x.t()).scalar_type() == torch::kFloat));
}

TEST_CASE("autocast: bf16 on the CPU computes matmuls and convolutions in bf16, and the scope restores fp32") {
  auto x = torch::randn({2, 3});
  auto image = torch::randn({1, 2, 5, 5});
  auto kernel = torch::randn({4, 2, 3, 3});
  {
    AutocastScope scope(torch::kBFloat16, torch::kCPU);
    CHECK((torch::matmul(x, x.t()).scalar_type() == torch::kBFloat16));
    CHECK((torch::conv2d(image, kernel).scalar_type() == torch::kBFloat16));
    {
      AutocastScope fp32(torch::kFloat, torch::kCPU);  // nested no-op: still bf16
      CHECK((torch::matmul(x, x.t()).scalar_type() == torch::kBFloat16));
    }
  }
  CHECK((torch::matmul(x, x.t()).scalar_type() == torch::kFloat));
  CHECK((torch::conv2d(image, kernel).scalar_type() == torch::kFloat));
  // A CUDA scope leaves CPU tensors alone.
  {
    AutocastScope scope(torch::kBFloat16, torch::kCUDA);
    CHECK((torch::matmul(x, x.t()).scalar_type() == torch::kFloat));
  }
}

TEST_CASE("precision: what each device gets, and why not") {
  const torch::Device cpu(torch::kCPU), cuda(torch::kCUDA);
  std::string why;
  CHECK((effective_precision(torch::kBFloat16, cpu, &why) == torch::kBFloat16));
  CHECK(why.empty());
  CHECK((effective_precision(torch::kHalf, cpu, &why) == torch::kFloat));
  CHECK(why.find("bf16 only") != std::string::npos);
  CHECK((effective_precision(torch::kHalf, cuda) == torch::kHalf));
  CHECK((effective_precision(torch::kBFloat16, cuda) == torch::kBFloat16));
  CHECK((effective_precision(torch::kFloat, cpu) == torch::kFloat));
  for (const char* name : {"fp32", "fp16", "bf16"}) CHECK(precision_name(precision_dtype(name)) == name);
}
