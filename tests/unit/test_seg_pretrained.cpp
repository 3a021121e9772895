// Pretrained segmentation models through TorchScript, on small jit modules written here in
// TorchScript source (no Python): dense logits from the torchscript plugin, a feature pyramid under
// unet / unet_plus_plus (`encoder = { plugin = "torchscript", ... }`) trained and frozen as staged
// training says, and the first convolution extended for extra bands.
#include <filesystem>

#include <unistd.h>

#include <torch/script.h>
#include <torch/torch.h>

#include "engine/param_groups.h"
#include "test_classification_support.h"
#include "xp/plugin.h"
// After the torch headers: glog (pulled in by c10) defines its own CHECK.
#include <doctest/doctest.h>

namespace seg_test {
xp::Params params(const std::string& kind, const std::string& name, const xp::Value::Table& overrides = {});
xp::Value plugin_table(const std::string& kind, const std::string& name, const xp::Value::Table& overrides = {});
}  // namespace seg_test

namespace fs = std::filesystem;

namespace {

void load_plugins() {
  static const bool loaded = [] {
    xp_test::load_classification_plugins();  // simple_cnn: a model that returns no pyramid
    xp_test::load_plugin_library("xp_torchscript");
    return true;
  }();
  (void)loaded;
}

torch::jit::Module leaf(const std::shared_ptr<torch::jit::CompilationUnit>& cu, const std::string& name) {
  torch::jit::Module m(name, cu);
  m.register_attribute("training", c10::BoolType::get(), true);
  return m;
}

// A conv3x3 stride 2 + BatchNorm + ReLU stage, `in` -> `out` channels.
torch::jit::Module stage(const std::shared_ptr<torch::jit::CompilationUnit>& cu, const std::string& name, int64_t in,
                         int64_t out) {
  torch::jit::Module m = leaf(cu, name);
  m.register_parameter("weight", torch::randn({out, in, 3, 3}) * 0.3, false);
  m.register_parameter("bn_weight", torch::ones({out}), false);
  m.register_parameter("bn_bias", torch::zeros({out}), false);
  m.register_buffer("running_mean", torch::zeros({out}));
  m.register_buffer("running_var", torch::ones({out}));
  m.define(R"(
def forward(self, x):
    y = torch.conv2d(x, self.weight, None, [2, 2], [1, 1], [1, 1], 1)
    return torch.relu(torch.batch_norm(y, self.bn_weight, self.bn_bias, self.running_mean, self.running_var, self.training, 0.1, 1e-5, False))
)");
  return m;
}

// stem (3 -> 4), layer2 (4 -> 8), layer3 (8 -> 16), each stride 2. Methods:
//   forward      [maps at strides 2, 4, 8]: a timm features_only encoder in miniature
//   tuple        the same as a tuple
//   dense        logits [B, 1, H, W]: a segmentation model upsampling its own output
//   dense_half   logits [B, 1, H/2, W/2]: one that does not
//   deepest      [the stride-8 map] alone: too short a pyramid
//   tensor       the stride-8 map, not in a list
fs::path write_pyramid_jit(const fs::path& dir) {
  torch::manual_seed(11);
  auto cu = std::make_shared<torch::jit::CompilationUnit>();
  torch::jit::Module net = leaf(cu, "TinyPyramid");
  net.register_module("stem", stage(cu, "Stem", 3, 4));
  net.register_module("layer2", stage(cu, "Layer2", 4, 8));
  net.register_module("layer3", stage(cu, "Layer3", 8, 16));
  net.register_parameter("head", torch::randn({1, 4, 1, 1}) * 0.5, false);
  net.define(R"(
def forward(self, x) -> List[Tensor]:
    a = self.stem.forward(x)
    b = self.layer2.forward(a)
    return [a, b, self.layer3.forward(b)]
def tuple(self, x) -> Tuple[Tensor, Tensor, Tensor]:
    a = self.stem.forward(x)
    b = self.layer2.forward(a)
    return (a, b, self.layer3.forward(b))
def dense_half(self, x):
    return torch.conv2d(self.stem.forward(x), self.head, None, [1, 1], [0, 0], [1, 1], 1)
def dense(self, x):
    return torch.upsample_nearest2d(self.dense_half(x), [x.size(2), x.size(3)], None, None)
def deepest(self, x) -> List[Tensor]:
    return [self.layer3.forward(self.layer2.forward(self.stem.forward(x)))]
def tensor(self, x):
    return self.layer3.forward(self.layer2.forward(self.stem.forward(x)))
)");
  fs::create_directories(dir);
  fs::path file = dir / "pyramid.pt";
  net.save(file.string());
  return file;
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("xp_seg_pretrained_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

std::shared_ptr<xp::Model> torchscript_model(xp::Value::Table overrides) {
  load_plugins();
  return xp_test::make<xp::Model>("torchscript", std::move(overrides));
}

// unet / unet_plus_plus on the pyramid file; `encoder` overrides the encoder table's defaults.
std::shared_ptr<xp::Model> seg_model(const std::string& name, const fs::path& file, xp::Value::Table encoder = {},
                                     xp::Value::Table overrides = {}) {
  load_plugins();
  encoder.emplace("path", file.string());
  encoder.emplace("input_size", xp_test::ints({3, 32, 32}));
  overrides["encoder"] = seg_test::plugin_table("model", "torchscript", encoder);
  overrides.emplace("base_width", int64_t{4});
  return xp::create<xp::Model>(seg_test::params("model", name, overrides));
}

xp::engine::NamedParameters named_parameters(const torch::nn::Module& m) {
  xp::engine::NamedParameters out;
  for (const auto& p : m.named_parameters()) out.emplace_back(p.key(), p.value());
  return out;
}

std::map<std::string, torch::Tensor> snapshot(const torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : m.named_parameters()) out[p.key()] = p.value().detach().clone();
  return out;
}

// One SGD step on binary cross-entropy against a fixed mask.
void train_step(xp::Model& m, const torch::Tensor& x) {
  m.train();
  std::vector<torch::Tensor> trainable;
  for (const auto& p : m.parameters())
    if (p.requires_grad()) trainable.push_back(p);
  torch::optim::SGD sgd(trainable, torch::optim::SGDOptions(0.5));
  sgd.zero_grad();
  torch::Tensor target = (torch::arange(x.size(2) * x.size(3)).reshape({1, 1, x.size(2), x.size(3)}) % 7 == 0)
                             .to(torch::kFloat)
                             .expand({x.size(0), 1, -1, -1});
  torch::binary_cross_entropy_with_logits(m.forward(x).logits, target).backward();
  sgd.step();
}

xp::ModelOutput eval_output(xp::Model& m, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  m.eval();
  return m.forward(x);
}

}  // namespace

TEST_CASE("seg pretrained: torchscript dense logits are checked against the input's (the mask's) size") {
  TempDir tmp;
  const fs::path file = write_pyramid_jit(tmp.path);
  auto m = torchscript_model({{"path", file.string()}, {"method", "dense"}, {"num_classes", 1},
                              {"input_size", xp_test::ints({3, 16, 16})}});
  torch::jit::Module reference = torch::jit::load(file.string());
  reference.eval();
  torch::Tensor x = torch::randn({2, 3, 24, 40});
  auto out = eval_output(*m, x);
  CHECK(out.logits.sizes() == torch::IntArrayRef({2, 1, 24, 40}));
  CHECK(torch::equal(out.logits, reference.get_method("dense")({x}).toTensor()));

  CHECK_THROWS_WITH_AS(torchscript_model({{"path", file.string()}, {"method", "dense"}, {"num_classes", 2},
                                          {"input_size", xp_test::ints({3, 16, 16})}}),
                       doctest::Contains("outputs 1 logit maps per pixel but num_classes is 2"), xp::ConfigError);
  CHECK_THROWS_WITH_AS(torchscript_model({{"path", file.string()}, {"method", "dense_half"}, {"num_classes", 1},
                                          {"input_size", xp_test::ints({3, 16, 16})}}),
                       doctest::Contains("dense logits are [2, 1, 8, 8] for an input [2, 3, 16, 16]; they must have "
                                         "the input's (the mask's) height and width"),
                       xp::ConfigError);
  // An input whose sides the model cannot reproduce is refused at the forward, not passed to the loss.
  auto odd = torchscript_model({{"path", file.string()}, {"method", "dense_half"}, {"num_classes", 1},
                                {"input_size", xp_test::ints({3, 1, 1})}});
  CHECK_THROWS_WITH(odd->forward(torch::randn({1, 3, 16, 16})),
                    doctest::Contains("returned dense logits [1, 1, 8, 8] for an input [1, 3, 16, 16]"));
}

TEST_CASE("seg pretrained: torchscript pyramid mode returns the maps fine to coarse") {
  TempDir tmp;
  const fs::path file = write_pyramid_jit(tmp.path);
  for (const char* method : {"forward", "tuple"}) {
    auto m = torchscript_model({{"path", file.string()}, {"mode", "pyramid"}, {"method", method},
                                {"input_size", xp_test::ints({3, 32, 32})}});
    auto out = eval_output(*m, torch::randn({2, 3, 32, 32}));
    REQUIRE(out.aux.size() == 3);
    CHECK(out.aux.at("pyramid_0").sizes() == torch::IntArrayRef({2, 4, 16, 16}));
    CHECK(out.aux.at("pyramid_1").sizes() == torch::IntArrayRef({2, 8, 8, 8}));
    CHECK(out.aux.at("pyramid_2").sizes() == torch::IntArrayRef({2, 16, 4, 4}));
    CHECK(torch::equal(out.logits, out.aux.at("pyramid_2")));
    CHECK_FALSE(m->named_parameters().contains("head.weight"));
  }
  CHECK_THROWS_WITH_AS(torchscript_model({{"path", file.string()}, {"mode", "pyramid"}, {"method", "tensor"},
                                          {"input_size", xp_test::ints({3, 32, 32})}}),
                       doctest::Contains("pyramid mode needs a list or tuple of feature maps"), xp::ConfigError);
}

TEST_CASE("seg pretrained: unet and unet_plus_plus decode a torchscript pyramid at the mask's size") {
  TempDir tmp;
  const fs::path file = write_pyramid_jit(tmp.path);
  torch::Tensor x = torch::randn({2, 3, 32, 32});
  for (const char* upsample : {"bilinear", "transpose"}) {
    auto unet = seg_model("unet", file, {}, {{"upsample", upsample}});
    auto out = eval_output(*unet, x);
    CHECK(out.logits.sizes() == torch::IntArrayRef({2, 1, 32, 32}));
    CHECK(eval_output(*unet, torch::randn({1, 3, 48, 64})).logits.sizes() == torch::IntArrayRef({1, 1, 48, 64}));
    auto names = unet->named_parameters();
    // The jit module's tensors under "encoder", xp's decoder over the pyramid's 3 levels (depth 2,
    // whatever depth says), and the full-resolution block after the stride-2 map.
    CHECK(names.contains("encoder.backbone.stem.weight"));
    CHECK(names.contains("encoder.backbone.layer3.weight"));
    CHECK(names.contains("decoder.block1.0.weight"));
    CHECK(names.contains("decoder.block0.0.weight"));
    CHECK_FALSE(names.contains("decoder.block2.0.weight"));
    CHECK(names.contains("final.0.weight"));
    // block1 takes the stride-8 map (16 channels; transpose: up-sampled to width 8) and the stride-4 skip (8).
    CHECK(names["decoder.block1.0.weight"].size(1) == (std::string(upsample) == "bilinear" ? 16 + 8 : 8 + 8));
  }
  auto nested = seg_model("unet_plus_plus", file, {}, {{"deep_supervision", true}});
  auto out = eval_output(*nested, x);
  CHECK(out.logits.sizes() == torch::IntArrayRef({2, 1, 32, 32}));
  REQUIRE(out.aux.size() == 1);  // depth 2: one shallower head
  CHECK(out.aux.at("ds_1").sizes() == torch::IntArrayRef({2, 1, 32, 32}));
  auto names = nested->named_parameters();
  CHECK(names.contains("encoder.backbone.layer2.weight"));
  // X(0,1) = conv(X(0,0): 4 encoder channels + up(X(1,0)): 8); X(0,2) = conv(4 + 4 + up(X(1,1)): 8).
  CHECK(names["decoder.x0_1.0.weight"].size(1) == 4 + 8);
  CHECK(names["decoder.x0_2.0.weight"].size(1) == 4 + 4 + 8);
}

TEST_CASE("seg pretrained: the pyramid encoder trains, freezes as encoder.* and takes its own learning rate") {
  TempDir tmp;
  auto unet = seg_model("unet", write_pyramid_jit(tmp.path));
  torch::manual_seed(3);
  torch::Tensor x = torch::randn({2, 3, 32, 32});
  auto encoder_changed = [&](const std::map<std::string, torch::Tensor>& before, const std::string& prefix) {
    size_t changed = 0, total = 0;
    for (const auto& p : unet->named_parameters())
      if (p.key().rfind(prefix, 0) == 0) {
        ++total;
        changed += !torch::equal(before.at(p.key()), p.value());
      }
    REQUIRE(total > 0);
    return changed;
  };
  // Stage 2: everything trains, the jit module's weights included.
  auto before = snapshot(*unet);
  train_step(*unet, x);
  CHECK(encoder_changed(before, "encoder.") > 0);
  CHECK(encoder_changed(before, "decoder.") > 0);

  // Stage 1: "encoder.*" frozen: 3 stages x (conv, BatchNorm weight and bias) + the unused head.
  CHECK(xp::engine::apply_freeze(named_parameters(*unet), {"encoder.*"}) == 10);
  before = snapshot(*unet);
  train_step(*unet, x);
  CHECK(encoder_changed(before, "encoder.") == 0);
  CHECK(encoder_changed(before, "decoder.") > 0);
  CHECK(encoder_changed(before, "head.") > 0);

  // Discriminative learning rates: the encoder's tensors form their own group at lr_scale 0.1.
  xp::engine::apply_freeze(named_parameters(*unet), {});
  xp::engine::OptimizerOptions options;
  options.name = "sgd";
  options.lr = 0.1;
  options.no_decay_norm_bias = false;
  xp::engine::ParamGroupOptions group;
  group.params = {"encoder.*"};
  group.lr_scale = 0.1;
  options.groups = {group};
  auto opt = xp::engine::build_optimizer(options, named_parameters(*unet));
  xp::engine::set_learning_rate(opt, 0.1);
  size_t encoder_tensors = 0, seen = 0;
  for (size_t g = 0; g < opt.optimizer->param_groups().size(); ++g) {
    const auto& pg = opt.optimizer->param_groups()[g];
    if (opt.lr_scale[g] == doctest::Approx(0.1)) {
      encoder_tensors += pg.params().size();
      CHECK(pg.options().get_lr() == doctest::Approx(0.01));
    }
    seen += pg.params().size();
  }
  CHECK(encoder_tensors == 10);
  CHECK(seen == unet->parameters().size());
}

TEST_CASE("seg pretrained: clear errors for an encoder that gives no usable pyramid") {
  TempDir tmp;
  const fs::path file = write_pyramid_jit(tmp.path);
  CHECK_THROWS_WITH_AS(seg_model("unet", file, {{"mode", "features"}, {"num_classes", 2}}),
                       doctest::Contains("encoder torchscript has mode = \"features\"; an encoder returns a feature "
                                         "pyramid"),
                       xp::ConfigError);
  // An explicit "logits" is a contradiction too, not silently taken as a pyramid (no mode = "auto" = pyramid).
  CHECK_THROWS_WITH_AS(seg_model("unet", file, {{"mode", "logits"}}),
                       doctest::Contains("encoder torchscript has mode = \"logits\""), xp::ConfigError);
  CHECK_THROWS_WITH_AS(seg_model("unet", file, {{"method", "deepest"}}),
                       doctest::Contains("returns 1 feature map; a U-Net decoder needs at least two"), xp::ConfigError);
  CHECK_THROWS_WITH_AS(seg_model("unet_plus_plus", file, {{"method", "dense"}}),
                       doctest::Contains("pyramid mode needs a list or tuple of feature maps"), xp::ConfigError);
  xp::Value::Table unet = {{"base_width", int64_t{4}}};
  unet["encoder"] = seg_test::plugin_table("model", "simple_cnn", {{"num_classes", int64_t{2}}, {"in_channels", int64_t{3}}});
  CHECK_THROWS_WITH_AS(xp::create<xp::Model>(seg_test::params("model", "unet", unet)),
                       doctest::Contains("unet: encoder simple_cnn returns no feature pyramid"), xp::ConfigError);
  CHECK_THROWS_WITH_AS(seg_model("unet", file, {{"method", "forward_features"}}),
                       doctest::Contains("has no method 'forward_features'"), xp::ConfigError);
}

TEST_CASE("seg pretrained: first_conv extension keeps the RGB output when the new bands are zero") {
  TempDir tmp;
  const fs::path file = write_pyramid_jit(tmp.path);
  torch::jit::Module reference = torch::jit::load(file.string());
  reference.eval();
  const torch::Tensor rgb_weight = reference.attr("stem").toModule().attr("weight").toTensor();

  auto m = torchscript_model({{"path", file.string()}, {"mode", "pyramid"}, {"in_channels", 5},
                              {"new_bands", "first_conv"}, {"input_size", xp_test::ints({3, 16, 16})}});
  auto names = m->named_parameters();
  CHECK_FALSE(names.contains("adapter.weight"));
  const torch::Tensor w = names["backbone.stem.weight"];
  REQUIRE(w.sizes() == torch::IntArrayRef({4, 5, 3, 3}));
  CHECK(torch::equal(w.slice(1, 0, 3), rgb_weight));
  // Each new band's filter is the mean of the RGB filters.
  for (int64_t band : {3, 4}) CHECK(torch::allclose(w.select(1, band), rgb_weight.mean(1)));

  torch::Tensor rgb = torch::randn({2, 3, 16, 16});
  torch::Tensor five = torch::cat({rgb, torch::zeros({2, 2, 16, 16})}, 1);
  auto out = eval_output(*m, five);
  auto expected = reference.forward({rgb}).toList();
  for (size_t i = 0; i < 3; ++i)
    CHECK(torch::allclose(out.aux.at("pyramid_" + std::to_string(i)), expected.get(i).toTensor(), 1e-5, 1e-6));
  // The new bands do reach the network.
  five.slice(1, 3, 5).fill_(1.0);
  CHECK_FALSE(torch::allclose(eval_output(*m, five).aux.at("pyramid_0"), expected.get(0).toTensor(), 1e-3, 1e-3));

  // Through unet: in_channels follows the model's, the extension happens inside the encoder.
  auto unet = seg_model("unet", file, {{"new_bands", "first_conv"}}, {{"in_channels", int64_t{4}}});
  CHECK(unet->named_parameters()["encoder.backbone.stem.weight"].size(1) == 4);
  CHECK(eval_output(*unet, torch::randn({1, 4, 32, 32})).logits.sizes() == torch::IntArrayRef({1, 1, 32, 32}));
  // The adapter (the default) is a learned 1x1 conv instead.
  auto adapted = seg_model("unet", file, {}, {{"in_channels", int64_t{4}}});
  CHECK(adapted->named_parameters().contains("encoder.adapter.weight"));

  CHECK_THROWS_WITH_AS(torchscript_model({{"path", file.string()}, {"mode", "pyramid"}, {"in_channels", 5},
                                          {"new_bands", "first_conv"}, {"first_conv", "layer2.weight"},
                                          {"input_size", xp_test::ints({3, 16, 16})}}),
                       doctest::Contains("first_conv 'layer2.weight' is [8, 4, 3, 3], not a convolution weight "
                                         "[out, 3, kh, kw]"),
                       xp::ConfigError);
  CHECK_THROWS_WITH_AS(torchscript_model({{"path", file.string()}, {"mode", "pyramid"}, {"in_channels", 5},
                                          {"new_bands", "first_conv"}, {"first_conv", "stem.wieght"},
                                          {"input_size", xp_test::ints({3, 16, 16})}}),
                       doctest::Contains("first_conv 'stem.wieght' is not a parameter of the module; did you mean 'stem.weight'?"),
                       xp::ConfigError);
  CHECK_THROWS_WITH_AS(torchscript_model({{"path", file.string()}, {"mode", "pyramid"}, {"in_channels", 5},
                                          {"new_bands", "first_conv"}, {"first_conv", "sten.weight"},
                                          {"input_size", xp_test::ints({3, 16, 16})}}),
                       doctest::Contains("the module has no submodule 'sten'; did you mean 'stem'?"), xp::ConfigError);
  CHECK_THROWS_WITH_AS(torchscript_model({{"path", file.string()}, {"mode", "pyramid"}, {"in_channels", 2},
                                          {"new_bands", "first_conv"}, {"input_size", xp_test::ints({3, 16, 16})}}),
                       doctest::Contains("in_channels = 2 is fewer than input_size[0] = 3"), xp::ConfigError);
}

// tests/cli/seg_pretrained_encoder.sh runs `xp run` on this file: with XP_WRITE_PYRAMID set, the
// pyramid module is written there (no Python on the test machines).
TEST_CASE("seg pretrained: the pyramid module for the CLI test (XP_WRITE_PYRAMID)") {
  const char* out = std::getenv("XP_WRITE_PYRAMID");
  TempDir tmp;
  const fs::path file = write_pyramid_jit(out ? fs::path(out) : tmp.path);
  CHECK(torch::jit::load(file.string()).find_method("forward"));
}
