// Forward shapes of the vision models on small inputs, their module names, and parameter counts
// checked against the published architectures.
#include <doctest/doctest.h>

#include "test_classification_support.h"

using xp_test::make;

namespace {

int64_t count_parameters(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

bool has_parameter_prefix(const torch::nn::Module& m, const std::string& prefix) {
  for (const auto& item : m.named_parameters())
    if (item.key().rfind(prefix, 0) == 0) return true;
  return false;
}

// Every parameter is either backbone.* or head.*, so "backbone.*" freezes all but the classifier.
void check_backbone_head(const torch::nn::Module& m) {
  CHECK(has_parameter_prefix(m, "backbone."));
  CHECK(has_parameter_prefix(m, "head."));
  for (const auto& item : m.named_parameters())
    CHECK_MESSAGE((item.key().rfind("backbone.", 0) == 0 || item.key().rfind("head.", 0) == 0), item.key());
}

}  // namespace

TEST_CASE("vision: mlp forward shape, features and input size check") {
  torch::manual_seed(0);
  auto m = make<xp::Model>("mlp", {{"num_classes", 10}, {"hidden", xp_test::ints({32, 16})}, {"dropout", 0.1}});
  auto out = m->forward(torch::randn({4, 1, 28, 28}));
  CHECK(out.logits.sizes() == torch::IntArrayRef({4, 10}));
  CHECK(out.aux.at("features").sizes() == torch::IntArrayRef({4, 16}));
  check_backbone_head(*m);
  CHECK_THROWS_WITH(m->forward(torch::randn({4, 3, 28, 28})), doctest::Contains("input_size is 784"));
  // A linear classifier when there are no hidden layers.
  auto linear = make<xp::Model>("mlp", {{"num_classes", 3}, {"input_size", 12}, {"hidden", xp_test::ints({})}});
  CHECK(count_parameters(*linear) == 12 * 3 + 3);
}

TEST_CASE("vision: num_classes 0 without a dataset is a clear error") {
  CHECK_THROWS_WITH_AS(make<xp::Model>("resnet"), doctest::Contains("num_classes"), xp::ConfigError);
}

TEST_CASE("vision: simple_cnn on 28x28 grey and 32x32 colour inputs") {
  torch::manual_seed(0);
  auto m = make<xp::Model>("simple_cnn", {{"num_classes", 10}, {"channels", xp_test::ints({8, 16})}, {"hidden", 32}});
  auto out = m->forward(torch::randn({2, 1, 28, 28}));
  CHECK(out.logits.sizes() == torch::IntArrayRef({2, 10}));
  CHECK(out.aux.at("features").size(1) == 16 * 7 * 7);
  check_backbone_head(*m);
  CHECK(has_parameter_prefix(*m, "backbone.block1."));
  auto rgb = make<xp::Model>("simple_cnn", {{"num_classes", 5}, {"in_channels", 3}, {"channels", xp_test::ints({4, 8})}});
  CHECK(rgb->forward(torch::randn({3, 3, 32, 32})).logits.sizes() == torch::IntArrayRef({3, 5}));
  CHECK_THROWS_WITH(rgb->forward(torch::randn({3, 1, 32, 32})), doctest::Contains("expects input [B, 3, H, W]"));
}

TEST_CASE("vision: resnet parameter counts match torchvision") {
  // torchvision.models.resnet18() / resnet50() with 1000 classes.
  auto r18 = make<xp::Model>("resnet", {{"num_classes", 1000}});
  CHECK(count_parameters(*r18) == 11689512);
  auto r34 = make<xp::Model>("resnet", {{"depth", 34}, {"num_classes", 1000}});
  CHECK(count_parameters(*r34) == 21797672);
  auto r50 = make<xp::Model>("resnet", {{"depth", 50}, {"num_classes", 1000}});
  CHECK(count_parameters(*r50) == 25557032);
  check_backbone_head(*r50);
  CHECK(has_parameter_prefix(*r50, "backbone.layer4.2.conv3."));
}

TEST_CASE("vision: resnet forward with the small-input stem and a width multiplier") {
  torch::manual_seed(0);
  auto m = make<xp::Model>("resnet", {{"num_classes", 10}, {"in_channels", 1}, {"small_input", true}, {"width", 0.25}});
  m->eval();
  auto out = m->forward(torch::randn({2, 1, 28, 28}));
  CHECK(out.logits.sizes() == torch::IntArrayRef({2, 10}));
  CHECK(out.aux.at("features").size(1) == 128);  // 512 * 0.25
  auto bottleneck = make<xp::Model>("resnet", {{"num_classes", 4}, {"depth", 50}, {"width", 0.125}, {"dropout", 0.2}});
  CHECK(bottleneck->forward(torch::randn({2, 3, 64, 64})).logits.sizes() == torch::IntArrayRef({2, 4}));
  // zero_init_residual: the last BN of every block starts at 0.
  auto zero = make<xp::Model>("resnet", {{"num_classes", 2}, {"width", 0.125}, {"zero_init_residual", true}});
  auto params = zero->named_parameters();
  CHECK(params["backbone.layer1.0.bn2.weight"].abs().sum().item<double>() == 0.0);
  CHECK(params["backbone.layer1.0.bn1.weight"].abs().sum().item<double>() > 0.0);
}

TEST_CASE("vision: mobilenet_v2 parameter count and forward") {
  auto full = make<xp::Model>("mobilenet_v2", {{"num_classes", 1000}});
  CHECK(count_parameters(*full) == 3504872);  // torchvision.models.mobilenet_v2()
  check_backbone_head(*full);
  torch::manual_seed(0);
  auto small = make<xp::Model>("mobilenet_v2", {{"num_classes", 10}, {"width", 0.25}, {"small_input", true}, {"in_channels", 1}});
  auto out = small->forward(torch::randn({2, 1, 32, 32}));
  CHECK(out.logits.sizes() == torch::IntArrayRef({2, 10}));
  CHECK(out.aux.at("features").size(1) == 1280);
  CHECK(has_parameter_prefix(*small, "backbone.block17."));
}

TEST_CASE("vision: vit forward, pooled features and configuration errors") {
  torch::manual_seed(0);
  auto m = make<xp::Model>("vit", {{"num_classes", 10}, {"image_size", 16}, {"patch_size", 4}, {"dim", 32},
                                   {"depth", 2}, {"heads", 4}, {"in_channels", 1}});
  auto out = m->forward(torch::randn({3, 1, 16, 16}));
  CHECK(out.logits.sizes() == torch::IntArrayRef({3, 10}));
  CHECK(out.aux.at("features").sizes() == torch::IntArrayRef({3, 32}));
  check_backbone_head(*m);
  CHECK(m->named_parameters()["backbone.pos_embed"].sizes() == torch::IntArrayRef({1, 17, 32}));
  CHECK(has_parameter_prefix(*m, "backbone.blocks.1.attention.qkv."));
  // The head starts at zero (uniform predictions) but still receives gradients.
  out.logits.select(1, 0).sum().backward();
  CHECK(m->named_parameters()["head.weight"].grad().abs().sum().item<double>() > 0.0);
  auto mean_pool = make<xp::Model>("vit", {{"num_classes", 2}, {"image_size", 8}, {"patch_size", 2}, {"dim", 16},
                                           {"depth", 1}, {"heads", 2}, {"pool", "mean"}});
  CHECK(mean_pool->forward(torch::randn({1, 3, 8, 8})).aux.at("features").sizes() == torch::IntArrayRef({1, 16}));
  CHECK_THROWS_WITH(mean_pool->forward(torch::randn({1, 3, 16, 16})), doctest::Contains("built for 8x8"));
  CHECK_THROWS_WITH_AS(make<xp::Model>("vit", {{"num_classes", 2}, {"dim", 30}, {"heads", 4}}),
                       doctest::Contains("not divisible by heads"), xp::ConfigError);
  CHECK_THROWS_WITH_AS(make<xp::Model>("vit", {{"num_classes", 2}, {"image_size", 30}, {"patch_size", 4}}),
                       doctest::Contains("does not divide"), xp::ConfigError);
}
