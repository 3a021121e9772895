#include "unet_blocks.h"

#include "xp/errors.h"
#include "xp/plugin_registry.h"

#include <torch/nn/functional/pooling.h>
#include <torch/nn/functional/upsampling.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>

namespace xp::seg {

namespace F = torch::nn::functional;

Schema& add_unet_options(Schema& s) {
  return s.add_int("in_channels", 0, "input bands; 0 = the dataset's band count (3 when built without one)")
      .range(0, 64)
      .add_int("out_channels", 1, "output logit maps (1 for binary segmentation)").range(1, 1024)
      .add_int("depth", 3, "number of 2x down-samplings (input sides should be multiples of 2^depth)").range(1, 6)
      .add_int("base_width", 16, "channels at full resolution, doubled at every level").range(1, 512)
      .add_bool("batch_norm", true, "batch normalisation after every convolution")
      .add_float("dropout", 0.0, "channel dropout after every conv block").range(0.0, 0.9)
      .add_plugin("encoder", "model", "a pretrained encoder instead of the built-in one: a model returning a "
                                      "feature pyramid, e.g. { plugin = \"torchscript\", path = \"enc.pt\" } "
                                      "(mode = \"pyramid\" is implied; depth follows its maps)")
      .optional();
}

UNetOptions::UNetOptions(const Params& p)
    : in_channels(p.get_int("in_channels") > 0 ? p.get_int("in_channels") : 3), out_channels(p.get_int("out_channels")), depth(p.get_int("depth")),
      base_width(p.get_int("base_width")), batch_norm(p.get_bool("batch_norm")), dropout(p.get_float("dropout")) {}

torch::nn::Sequential conv_block(int64_t in, int64_t out, bool batch_norm, double dropout) {
  torch::nn::Sequential block;
  for (int i = 0; i < 2; ++i) {
    block->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(i == 0 ? in : out, out, 3).padding(1).bias(!batch_norm)));
    if (batch_norm) block->push_back(torch::nn::BatchNorm2d(out));
    block->push_back(torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)));
  }
  if (dropout > 0.0) block->push_back(torch::nn::Dropout2d(dropout));
  return block;
}

EncoderImpl::EncoderImpl(const UNetOptions& o) {
  for (int64_t level = 0; level <= o.depth; ++level) {
    int64_t in = level == 0 ? o.in_channels : o.width(level - 1);
    stages_.push_back(register_module("stage" + std::to_string(level), conv_block(in, o.width(level), o.batch_norm, o.dropout)));
  }
}

std::vector<torch::Tensor> EncoderImpl::forward(const torch::Tensor& x) {
  std::vector<torch::Tensor> features;
  auto h = x;
  for (size_t level = 0; level < stages_.size(); ++level) {
    if (level > 0) h = F::max_pool2d(h, F::MaxPool2dFuncOptions(2).stride(2));
    h = stages_[level]->forward(h);
    features.push_back(h);
  }
  return features;
}

UNetEncoder::UNetEncoder(torch::nn::Module& owner, const Params& p, UNetOptions& o) {
  if (!p.has("encoder")) {
    builtin_ = owner.register_module("encoder", Encoder(o));
    return;
  }
  Params inner = p.get_plugin("encoder");
  name_ = inner.plugin();
  const std::string where = inner.where().empty() ? p.where() : inner.where();
  // The encoder sees the model's input: as many bands as the dataset's (torchscript adapts them).
  if (inner.has("in_channels") && inner.get("in_channels").type() == Value::Type::Int &&
      inner.get_int("in_channels") == 0)
    inner = inner.with("in_channels", Value(o.in_channels));
  if (inner.has("mode") && inner.get("mode").type() == Value::Type::String) {
    const std::string mode = inner.get_string("mode");
    // "auto" (the default) is what a table without mode has; an explicit "logits" is refused too.
    if (mode != "auto" && mode != "pyramid")
      throw ConfigError(p.plugin() + ": encoder " + name_ + " has mode = \"" + mode +
                            "\"; an encoder returns a feature pyramid: leave mode out (or set \"pyramid\")",
                        where);
    inner = inner.with("mode", Value(std::string("pyramid")));
  }
  model_ = create<Model>(inner);
  owner.register_module("encoder", model_);

  // One forward on zeros learns the pyramid's channels and whether its finest map is below the
  // input's resolution. Eval mode: BatchNorm statistics stay untouched.
  int64_t side = 64;
  if (inner.has("input_size") && inner.get("input_size").type() == Value::Type::List) {
    const auto size = inner.get_ints("input_size");
    if (size.size() == 3) side = std::max(size[1], size[2]);
  }
  std::vector<torch::Tensor> maps;
  try {
    torch::NoGradGuard no_grad;
    model_->eval();
    maps = pyramid(model_->forward(torch::zeros({1, o.in_channels, side, side})));
    model_->train();
  } catch (const std::exception& e) {
    // c10::Error carries a C++ backtrace after its first line; the user needs the first line.
    const std::string what = e.what();
    throw ConfigError(p.plugin() + ": " + what.substr(0, what.find('\n')), where);
  }
  if (maps.size() < 2)
    throw ConfigError(p.plugin() + ": encoder " + name_ + " returns " + std::to_string(maps.size()) +
                          " feature map; a U-Net decoder needs at least two (e.g. strides 2, 4, 8, 16, 32)",
                      where);
  o.depth = static_cast<int64_t>(maps.size()) - 1;
  o.encoder_channels.clear();
  for (const auto& m : maps) o.encoder_channels.push_back(m.size(1));
  if (maps.front().size(2) < side || maps.front().size(3) < side)
    final_ = owner.register_module("final", conv_block(o.width(0), o.width(0), o.batch_norm, o.dropout));
}

std::vector<torch::Tensor> UNetEncoder::pyramid(const ModelOutput& out) const {
  std::vector<torch::Tensor> maps;
  for (size_t i = 0;; ++i) {
    auto it = out.aux.find("pyramid_" + std::to_string(i));
    if (it == out.aux.end()) break;
    maps.push_back(it->second);
  }
  if (maps.empty())
    throw std::invalid_argument("encoder " + name_ + " returns no feature pyramid (aux pyramid_0, pyramid_1, ...); "
                                "use plugin = \"torchscript\" with a method that returns a list of feature maps");
  return maps;
}

std::vector<torch::Tensor> UNetEncoder::forward(const torch::Tensor& x) {
  if (builtin_) return builtin_->forward(x);
  return pyramid(model_->forward(x));
}

torch::Tensor UNetEncoder::to_input_size(const torch::Tensor& decoded, const torch::Tensor& input) {
  if (!final_) return decoded;
  return final_->forward(upsample_like(decoded, input));
}

torch::Tensor upsample_like(const torch::Tensor& x, const torch::Tensor& like) {
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{like.size(2), like.size(3)})
                               .mode(torch::kBilinear)
                               .align_corners(false));
}

}  // namespace xp::seg
