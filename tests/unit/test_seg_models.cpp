// unet / unet_plus_plus: output shapes, deep supervision outputs, submodule names for freezing.
#include <torch/torch.h>

#include "xp/plugin.h"
// After the torch headers: glog (pulled in by c10) defines its own CHECK.
#include <doctest/doctest.h>

namespace seg_test {
xp::Params params(const std::string& kind, const std::string& name, const xp::Value::Table& overrides = {});
}

namespace {
std::shared_ptr<xp::Model> make_model(const std::string& name, const xp::Value::Table& overrides = {}) {
  return xp::create<xp::Model>(seg_test::params("model", name, overrides));
}
bool has_prefix(const torch::nn::Module& m, const std::string& prefix) {
  for (const auto& p : m.named_parameters())
    if (p.key().rfind(prefix, 0) == 0) return true;
  return false;
}
}  // namespace

TEST_CASE("seg models: unet output shape, odd sizes, transpose up-sampling") {
  torch::NoGradGuard no_grad;
  auto unet = make_model("unet", {{"base_width", int64_t{4}}});
  auto out = unet->forward(torch::randn({2, 3, 32, 32}));
  CHECK(out.logits.sizes() == torch::IntArrayRef({2, 1, 32, 32}));
  CHECK(out.aux.empty());
  CHECK(unet->forward(torch::randn({1, 3, 37, 45})).logits.sizes() == torch::IntArrayRef({1, 1, 37, 45}));

  auto transpose = make_model("unet", {{"base_width", int64_t{4}}, {"upsample", "transpose"}, {"depth", int64_t{2}},
                                       {"in_channels", int64_t{1}}, {"out_channels", int64_t{2}}, {"dropout", 0.2}});
  CHECK(transpose->forward(torch::randn({1, 1, 30, 18})).logits.sizes() == torch::IntArrayRef({1, 2, 30, 18}));
  CHECK(has_prefix(*unet, "encoder."));
  CHECK(has_prefix(*unet, "decoder."));
  CHECK(has_prefix(*unet, "head."));
  CHECK_THROWS_WITH_AS(unet->forward(torch::randn({1, 1, 32, 32})), doctest::Contains("in_channels"), xp::ConfigError);
}

TEST_CASE("seg models: unet_plus_plus nested outputs and deep supervision") {
  torch::NoGradGuard no_grad;
  auto plain = make_model("unet_plus_plus", {{"base_width", int64_t{4}}});
  auto out = plain->forward(torch::randn({2, 3, 32, 32}));
  CHECK(out.logits.sizes() == torch::IntArrayRef({2, 1, 32, 32}));
  CHECK(out.aux.empty());

  auto deep = make_model("unet_plus_plus", {{"base_width", int64_t{4}}, {"deep_supervision", true}, {"depth", int64_t{3}}});
  auto d = deep->forward(torch::randn({2, 3, 33, 40}));
  CHECK(d.logits.sizes() == torch::IntArrayRef({2, 1, 33, 40}));
  REQUIRE(d.aux.size() == 2);
  CHECK(d.aux.at("ds_1").sizes() == torch::IntArrayRef({2, 1, 33, 40}));
  CHECK(d.aux.at("ds_2").sizes() == torch::IntArrayRef({2, 1, 33, 40}));
  CHECK(has_prefix(*deep, "encoder."));
  CHECK(has_prefix(*deep, "decoder.x0_3."));
  CHECK(has_prefix(*deep, "ds_heads."));
  // Nested nodes: depth 3 has 3 + 2 + 1 decoder blocks.
  std::set<std::string> nodes;
  for (const auto& p : deep->named_parameters())
    if (p.key().rfind("decoder.", 0) == 0) nodes.insert(p.key().substr(8, p.key().find('.', 8) - 8));
  CHECK(nodes.size() == 6);
}

TEST_CASE("seg models: training a step reduces the loss on a fixed batch") {
  auto unet = make_model("unet", {{"base_width", int64_t{4}}, {"depth", int64_t{2}}});
  torch::manual_seed(0);
  auto x = torch::randn({2, 3, 16, 16});
  auto y = (x.select(1, 0).unsqueeze(1) > 1.0).to(torch::kFloat);
  torch::optim::Adam opt(unet->parameters(), torch::optim::AdamOptions(1e-2));
  double first = 0, last = 0;
  for (int step = 0; step < 40; ++step) {
    opt.zero_grad();
    auto loss = torch::binary_cross_entropy_with_logits(unet->forward(x).logits, y);
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
    loss.backward();
    opt.step();
  }
  CHECK(last < 0.6 * first);
}
