// The torchscript model plugin on a small jit module written here in TorchScript source (no
// Python): its parameters are the jit module's own tensors, so training, freezing, checkpoints,
// EMA, dtype moves and BatchNorm statistics act on what the jit module computes with.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include <torch/script.h>

#include "engine/checkpoint.h"
#include "engine/param_groups.h"
#include "test_classification_support.h"
#include "training/weight_ema.h"

namespace fs = std::filesystem;

namespace {

void load_torchscript_plugin() {
  static const bool loaded = [] {
    xp_test::load_classification_plugins();
    xp_test::load_plugin_library("xp_torchscript");
    return true;
  }();
  (void)loaded;
}

std::shared_ptr<xp::Model> make_model(xp::Value::Table overrides) {
  load_torchscript_plugin();
  return xp_test::make<xp::Model>("torchscript", std::move(overrides));
}

torch::jit::Module leaf(const std::shared_ptr<torch::jit::CompilationUnit>& cu, const std::string& name) {
  torch::jit::Module m(name, cu);
  m.register_attribute("training", c10::BoolType::get(), true);
  return m;
}

// conv3x3 (3 -> 4) -> BatchNorm (running statistics updated in place in training mode) -> ReLU
// -> mean over H, W -> linear (4 -> classes). forward_features stops before the pooling; tokens
// returns [B, C, H*W], which the plugin must refuse to guess how to pool.
fs::path write_tiny_jit(const fs::path& dir, int64_t classes) {
  torch::manual_seed(7);
  auto cu = std::make_shared<torch::jit::CompilationUnit>();
  torch::jit::Module conv = leaf(cu, "Conv");
  conv.register_parameter("weight", torch::randn({4, 3, 3, 3}) * 0.3, false);
  conv.register_parameter("bias", torch::randn({4}) * 0.1, false);
  conv.define(R"(
def forward(self, x):
    return torch.conv2d(x, self.weight, self.bias, [1, 1], [1, 1], [1, 1], 1)
)");
  torch::jit::Module bn = leaf(cu, "Norm");
  bn.register_parameter("weight", torch::ones({4}), false);
  bn.register_parameter("bias", torch::zeros({4}), false);
  bn.register_buffer("running_mean", torch::zeros({4}));
  bn.register_buffer("running_var", torch::ones({4}));
  bn.define(R"(
def forward(self, x):
    return torch.batch_norm(x, self.weight, self.bias, self.running_mean, self.running_var, self.training, 0.1, 1e-5, False)
)");
  torch::jit::Module fc = leaf(cu, "Fc");
  fc.register_parameter("weight", torch::randn({classes, 4}) * 0.5, false);
  fc.register_parameter("bias", torch::zeros({classes}), false);
  fc.define(R"(
def forward(self, x):
    return torch.addmm(self.bias, x, torch.t(self.weight))
)");
  torch::jit::Module net = leaf(cu, "TinyNet");
  net.register_module("conv", conv);
  net.register_module("bn", bn);
  net.register_module("fc", fc);
  net.define(R"(
def forward_features(self, x):
    return torch.relu(self.bn.forward(self.conv.forward(x)))
def tokens(self, x):
    return torch.flatten(self.forward_features(x), 2)
def forward(self, x):
    return self.fc.forward(torch.mean(self.forward_features(x), [2, 3]))
)");
  fs::create_directories(dir);
  fs::path file = dir / ("tiny_" + std::to_string(classes) + ".pt");
  net.save(file.string());
  return file;
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("xp_ts_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

xp::Value::Table features_params(const fs::path& file) {
  return {{"path", file.string()},        {"mode", "features"},
          {"method", "forward_features"}, {"num_classes", 3},
          {"input_size", xp_test::ints({3, 8, 8})}};
}

xp::engine::NamedParameters named_parameters(const torch::nn::Module& m) {
  xp::engine::NamedParameters out;
  for (const auto& p : m.named_parameters()) out.emplace_back(p.key(), p.value());
  return out;
}

// One SGD step on cross-entropy against fixed targets.
void train_step(xp::Model& m, const torch::Tensor& x) {
  m.train();
  std::vector<torch::Tensor> trainable;
  for (const auto& p : m.parameters())
    if (p.requires_grad()) trainable.push_back(p);
  torch::optim::SGD sgd(trainable, torch::optim::SGDOptions(0.5));
  sgd.zero_grad();
  torch::Tensor loss = torch::cross_entropy_loss(m.forward(x).logits, torch::tensor({0, 1, 2, 0}));
  loss.backward();
  sgd.step();
}

xp::ModelOutput eval_output(xp::Model& m, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  m.eval();
  return m.forward(x);
}

xp::ModelOutput train_output(xp::Model& m, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  m.train();
  return m.forward(x);
}

}  // namespace

TEST_CASE("torchscript: features mode names the jit module's tensors backbone.* and adds a head") {
  TempDir tmp;
  auto m = make_model(features_params(write_tiny_jit(tmp.path, 5)));
  auto out = eval_output(*m, torch::randn({2, 3, 8, 8}));
  CHECK(out.logits.sizes() == torch::IntArrayRef({2, 3}));
  CHECK(out.aux.at("features").sizes() == torch::IntArrayRef({2, 4}));  // conv channels, pooled
  std::vector<std::string> names;
  for (const auto& p : m->named_parameters()) names.push_back(p.key());
  CHECK(names == std::vector<std::string>{"backbone.conv.weight", "backbone.conv.bias", "backbone.bn.weight",
                                          "backbone.bn.bias", "backbone.fc.weight", "backbone.fc.bias",
                                          "head.weight", "head.bias"});
  CHECK(m->named_buffers().contains("backbone.bn.running_mean"));
  // forward's output [B, 5] is used as features as is (a model exported without its classifier).
  auto on_forward = make_model({{"path", (tmp.path / "tiny_5.pt").string()}, {"mode", "features"},
                                {"num_classes", 2}, {"input_size", xp_test::ints({3, 8, 8})}});
  CHECK(eval_output(*on_forward, torch::randn({3, 3, 8, 8})).aux.at("features").sizes() ==
        torch::IntArrayRef({3, 5}));
}

TEST_CASE("torchscript: a training step changes the jit module's output; frozen backbone.* does not") {
  TempDir tmp;
  auto m = make_model(features_params(write_tiny_jit(tmp.path, 5)));
  torch::manual_seed(1);
  torch::Tensor x = torch::randn({4, 3, 8, 8});
  // Compared in training mode, where BatchNorm normalises with the batch's statistics: the output
  // then depends on the parameters alone, not on the running statistics every step moves.
  auto before = train_output(*m, x);
  train_step(*m, x);
  auto after = train_output(*m, x);
  CHECK_FALSE(torch::allclose(before.aux.at("features"), after.aux.at("features")));

  REQUIRE(xp::engine::apply_freeze(named_parameters(*m), {"backbone.*"}) == 6);
  train_step(*m, x);
  auto frozen = train_output(*m, x);
  CHECK(torch::equal(after.aux.at("features"), frozen.aux.at("features")));
  CHECK_FALSE(torch::allclose(after.logits, frozen.logits));  // the head still trains
}

TEST_CASE("torchscript: BatchNorm statistics inside the jit module move in training mode only") {
  TempDir tmp;
  auto m = make_model(features_params(write_tiny_jit(tmp.path, 5)));
  // The probe at construction ran the module in training mode but put the statistics back.
  torch::Tensor running_mean = m->named_buffers()["backbone.bn.running_mean"];
  CHECK(torch::equal(running_mean, torch::zeros({4})));
  torch::Tensor x = torch::randn({4, 3, 8, 8}) + 1.0;
  eval_output(*m, x);
  CHECK(torch::equal(running_mean, torch::zeros({4})));
  {
    torch::NoGradGuard no_grad;
    m->train();
    m->forward(x);
  }
  CHECK(running_mean.abs().sum().item<double>() > 1e-3);
  // Eval mode normalises with the running statistics, so one sample's output does not depend on
  // the rest of its batch.
  auto both = eval_output(*m, x.slice(0, 0, 2)).logits;
  auto alone = eval_output(*m, x.slice(0, 0, 1)).logits;
  CHECK(torch::allclose(both[0], alone[0], 1e-5, 1e-6));
}

TEST_CASE("torchscript: a checkpoint round trip and an EMA swap restore the jit module's output exactly") {
  TempDir tmp;
  fs::path file = write_tiny_jit(tmp.path, 5);
  torch::Tensor x = torch::randn({4, 3, 8, 8});
  auto trained = make_model(features_params(file));
  auto initial = eval_output(*trained, x);
  xp::WeightEma ema(*trained, 0.99);  // holds the initial weights
  train_step(*trained, x);
  auto expected = eval_output(*trained, x);

  torch::optim::SGD sgd(trained->parameters(), torch::optim::SGDOptions(0.1));
  xp::engine::save_checkpoint(tmp.path / "last.pt", {trained.get(), nullptr, &sgd, nullptr, nullptr},
                              xp::engine::LoopState{});
  auto fresh = make_model(features_params(file));
  CHECK_FALSE(torch::equal(eval_output(*fresh, x).aux.at("features"), expected.aux.at("features")));
  xp::engine::load_model_weights(tmp.path / "last.pt", *fresh, torch::kCPU);
  auto restored = eval_output(*fresh, x);
  CHECK(torch::equal(restored.logits, expected.logits));
  CHECK(torch::equal(restored.aux.at("features"), expected.aux.at("features")));
  CHECK(torch::equal(fresh->named_buffers()["backbone.bn.running_mean"],
                     trained->named_buffers()["backbone.bn.running_mean"]));

  ema.swap(*trained);
  CHECK(torch::equal(eval_output(*trained, x).aux.at("features"), initial.aux.at("features")));
}

TEST_CASE("torchscript: a dtype move reaches the jit module") {
  TempDir tmp;
  auto m = make_model(features_params(write_tiny_jit(tmp.path, 5)));
  m->to(torch::kFloat64);
  auto out = eval_output(*m, torch::randn({2, 3, 8, 8}, torch::kFloat64));
  CHECK(out.aux.at("features").dtype() == torch::kFloat64);
  CHECK(out.logits.dtype() == torch::kFloat64);
}

TEST_CASE("torchscript: logits mode is the jit module's own forward, with its class count checked") {
  TempDir tmp;
  fs::path file = write_tiny_jit(tmp.path, 5);
  auto m = make_model({{"path", file.string()}, {"num_classes", 5}, {"input_size", xp_test::ints({3, 8, 8})}});
  torch::jit::Module reference = torch::jit::load(file.string());
  reference.eval();
  torch::Tensor x = torch::randn({2, 3, 8, 8});
  auto out = eval_output(*m, x);
  CHECK(torch::equal(out.logits, reference.forward({x}).toTensor()));
  CHECK(out.aux.empty());
  for (const auto& p : m->named_parameters()) CHECK(p.key().rfind("backbone.", 0) == 0);
  CHECK_THROWS_WITH_AS(
      make_model({{"path", file.string()}, {"num_classes", 10}, {"input_size", xp_test::ints({3, 8, 8})}}),
      doctest::Contains("outputs 5 values per image but num_classes is 10; to train a new head on its output set "
                        "mode = \"features\""),
      xp::ConfigError);
}

TEST_CASE("torchscript: grey images are repeated to the backbone's channels, others adapted by a 1x1 conv") {
  TempDir tmp;
  fs::path file = write_tiny_jit(tmp.path, 5);
  auto params = features_params(file);
  params["in_channels"] = 1;
  auto grey = make_model(params);
  torch::Tensor g = torch::rand({2, 1, 8, 8});
  params["in_channels"] = 3;
  auto rgb = make_model(params);
  // The same weights (same file) see the same image whether it arrived grey or repeated.
  CHECK(torch::allclose(eval_output(*grey, g).aux.at("features"), eval_output(*rgb, g.repeat({1, 3, 1, 1})).aux.at("features")));
  CHECK_THROWS_WITH(grey->forward(torch::rand({2, 3, 8, 8})), doctest::Contains("expects input [B, 1, H, W]"));
  params["in_channels"] = 4;
  auto four = make_model(params);
  CHECK(four->named_parameters().contains("adapter.weight"));
  CHECK(eval_output(*four, torch::rand({2, 4, 8, 8})).logits.sizes() == torch::IntArrayRef({2, 3}));
}

TEST_CASE("torchscript: new_bands = first_conv extends the first convolution instead of adding an adapter") {
  TempDir tmp;
  fs::path file = write_tiny_jit(tmp.path, 5);
  auto params = features_params(file);
  auto rgb = make_model(params);
  params["in_channels"] = 4;
  params["new_bands"] = "first_conv";
  auto four = make_model(params);
  auto names = four->named_parameters();
  CHECK_FALSE(names.contains("adapter.weight"));
  REQUIRE(names["backbone.conv.weight"].sizes() == torch::IntArrayRef({4, 4, 3, 3}));
  // The RGB features (and, the head drawn with the same seed aside, everything before it) are the
  // pretrained network's when the new band is zero.
  torch::Tensor x = torch::rand({2, 3, 8, 8});
  CHECK(torch::allclose(eval_output(*four, torch::cat({x, torch::zeros({2, 1, 8, 8})}, 1)).aux.at("features"),
                        eval_output(*rgb, x).aux.at("features"), 1e-5, 1e-6));
}

TEST_CASE("torchscript: clear errors for a missing file, a file that is not TorchScript and wrong shapes") {
  TempDir tmp;
  fs::path file = write_tiny_jit(tmp.path, 5);
  auto with = [&](std::string key, xp::Value v) {
    auto params = features_params(file);
    params[key] = std::move(v);
    return params;
  };
  CHECK_THROWS_WITH_AS(make_model(with("path", (tmp.path / "nope.pt").string())),
                       doctest::Contains("nope.pt does not exist"), xp::ConfigError);
  std::ofstream(tmp.path / "notes.pt") << "not a model\n";
  CHECK_THROWS_WITH_AS(make_model(with("path", (tmp.path / "notes.pt").string())),
                       doctest::Contains("notes.pt is not a TorchScript archive"), xp::ConfigError);
  CHECK_THROWS_WITH(make_model(with("path", (tmp.path / "notes.pt").string())),
                    doctest::Contains("tools/export_torchscript.py"));
  // An xp checkpoint is a torch archive too, but holds no code.
  {
    auto m = make_model(features_params(file));
    torch::optim::SGD sgd(m->parameters(), torch::optim::SGDOptions(0.1));
    xp::engine::save_checkpoint(tmp.path / "ckpt.pt", {m.get(), nullptr, &sgd, nullptr, nullptr},
                                xp::engine::LoopState{});
  }
  CHECK_THROWS_WITH_AS(make_model(with("path", (tmp.path / "ckpt.pt").string())),
                       doctest::Contains("ckpt.pt"), xp::ConfigError);
  CHECK_THROWS_WITH(make_model(with("method", "forward_feature")),
                    doctest::Contains("has no method 'forward_feature'; it has "));
  CHECK_THROWS_WITH(make_model(with("input_size", xp_test::ints({5, 8, 8}))),
                    doctest::Contains((std::string("probe forward of ") + file.string() + ".forward_features on input_size [5, 8, 8] failed").c_str()));
  CHECK_THROWS_WITH(make_model(with("input_size", xp_test::ints({8, 8}))),
                    doctest::Contains("input_size is [C, H, W], got [8, 8]"));
  CHECK_THROWS_WITH(make_model(with("method", "tokens")),
                    doctest::Contains("features of shape [2, 4, 64] are neither [B, F] nor [B, C, H, W]"));
  CHECK_THROWS_WITH(make_model(with("num_classes", 0)), doctest::Contains("num_classes is 0"));
  auto logits = with("mode", "logits");
  CHECK_THROWS_WITH(make_model(logits), doctest::Contains("[2, 4, 8, 8]"));  // forward_features is not logits
}

TEST_CASE("torchscript: the shipped tiny backbone (tools/export_torchscript.py --tiny --features) on grey images") {
  const std::string asset = XP_SOURCE_DIR "/experiments/assets/tiny_backbone.pt";
  auto m = make_model({{"path", asset}, {"mode", "features"}, {"num_classes", 10}, {"in_channels", 1},
                       {"input_size", xp_test::ints({3, 28, 28})}});
  auto out = eval_output(*m, torch::rand({2, 1, 28, 28}));
  CHECK(out.logits.sizes() == torch::IntArrayRef({2, 10}));
  CHECK(out.aux.at("features").sizes() == torch::IntArrayRef({2, 64}));
  // conv3x3 3->16, 16->32, 32->64 without bias, and a BatchNorm weight and bias after each.
  int64_t backbone = 0;
  for (const auto& p : m->named_parameters())
    if (p.key().rfind("backbone.", 0) == 0) backbone += p.value().numel();
  CHECK(backbone == 3 * 16 * 9 + 16 * 32 * 9 + 32 * 64 * 9 + 2 * (16 + 32 + 64));
  CHECK(m->named_buffers().contains("backbone.features.2.1.running_var"));
  // Its exported forward_features gives the maps before pooling; the plugin pools them the same way.
  auto maps = make_model({{"path", asset}, {"mode", "features"}, {"method", "forward_features"}, {"num_classes", 10},
                          {"input_size", xp_test::ints({3, 28, 28})}});
  torch::Tensor x = torch::rand({2, 3, 28, 28});
  auto via_maps = eval_output(*maps, x).aux.at("features");
  auto pooled_inside = make_model({{"path", asset}, {"mode", "features"}, {"num_classes", 10},
                                   {"input_size", xp_test::ints({3, 28, 28})}});
  CHECK(torch::allclose(via_maps, eval_output(*pooled_inside, x).aux.at("features"), 1e-5, 1e-6));
}
