// MobileNetV2 (Sandler et al. 2018): inverted residuals with linear bottlenecks. Meant to be
// trained from scratch here, so the initialisation follows torchvision's.
#include <xp/plugin.h>

#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>

#include "model_checks.h"
#include "stack.h"

namespace {

// Channel counts are kept multiples of 8 (never dropping more than 10%), as in the paper's code.
int64_t make_divisible(double v, int64_t divisor = 8) {
  int64_t rounded = std::max<int64_t>(divisor, (static_cast<int64_t>(v + divisor / 2.0) / divisor) * divisor);
  if (rounded < 0.9 * v) rounded += divisor;
  return rounded;
}

xp::vision::Stack conv_bn_relu6(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t groups = 1) {
  return xp::vision::Stack(
      torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(k / 2).groups(groups).bias(false)),
      torch::nn::BatchNorm2d(out), torch::nn::ReLU6());
}

class InvertedResidualImpl : public torch::nn::Module {
 public:
  InvertedResidualImpl(int64_t in, int64_t out, int64_t stride, int64_t expansion)
      : use_residual_(stride == 1 && in == out) {
    int64_t hidden = in * expansion;
    torch::nn::Sequential layers;
    if (expansion != 1) layers->push_back("expand", conv_bn_relu6(in, hidden, 1, 1));
    layers->push_back("depthwise", conv_bn_relu6(hidden, hidden, 3, stride, hidden));
    layers->push_back("project", torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden, out, 1).bias(false)));
    layers->push_back("project_bn", torch::nn::BatchNorm2d(out));
    conv = register_module("conv", layers);
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor y = conv->forward(x);
    return use_residual_ ? x + y : y;
  }
  torch::nn::Sequential conv{nullptr};

 private:
  bool use_residual_;
};
TORCH_MODULE(InvertedResidual);

class MobileNetV2 : public xp::Model {
 public:
  static xp::Schema schema() {
    return xp::Schema(
               "MobileNetV2. Modules: backbone.stem, backbone.block1..block17, backbone.last, head")
        .tasks({"classification"})  // logits [B, K]
        .add_float("width", 1.0, "width multiplier on every layer's channels").range(0.1, 4.0)
        .add_int("in_channels", 3, "input channels (1 grey, 3 colour)").range(1, 64)
        .add_bool("small_input", false, "stride 1 in the stem and the first stride-2 stage, for 28-32 px images")
        .add_float("dropout", 0.2, "dropout before the head").range(0.0, 0.99)
        .add_int("num_classes", 0, "output classes (0 = from the dataset)").min(0);
  }

  explicit MobileNetV2(const xp::Params& p) : in_channels_(p.get_int("in_channels")) {
    int64_t classes = xp::vision::require_num_classes(p.get_int("num_classes"), "mobilenet_v2");
    double width = p.get_float("width");
    bool small = p.get_bool("small_input");
    // expansion t, channels c, repeats n, stride s of the first repeat (Table 2 of the paper)
    const int64_t settings[7][4] = {{1, 16, 1, 1},  {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                    {6, 96, 3, 1},  {6, 160, 3, 2}, {6, 320, 1, 1}};
    backbone_ = register_module("backbone", torch::nn::Sequential());
    int64_t channels = make_divisible(32 * width);
    backbone_->push_back("stem", conv_bn_relu6(in_channels_, channels, 3, small ? 1 : 2));
    int block = 0;
    for (int s = 0; s < 7; ++s) {
      int64_t out = make_divisible(settings[s][1] * width);
      for (int64_t i = 0; i < settings[s][2]; ++i) {
        int64_t stride = i == 0 ? settings[s][3] : 1;
        if (small && s == 1) stride = 1;
        backbone_->push_back("block" + std::to_string(++block), InvertedResidual(channels, out, stride, settings[s][0]));
        channels = out;
      }
    }
    int64_t last = make_divisible(1280 * std::max(1.0, width));
    backbone_->push_back("last", conv_bn_relu6(channels, last, 1, 1));
    double dropout = p.get_float("dropout");
    if (dropout > 0) dropout_ = register_module("dropout", torch::nn::Dropout(dropout));
    head_ = register_module("head", torch::nn::Linear(last, classes));

    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* c = m->as<torch::nn::Conv2d>()) {
        torch::nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut);
      } else if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
        torch::nn::init::ones_(bn->weight);
        torch::nn::init::zeros_(bn->bias);
      } else if (auto* fc = m->as<torch::nn::Linear>()) {
        torch::nn::init::normal_(fc->weight, 0.0, 0.01);
        torch::nn::init::zeros_(fc->bias);
      }
    }
  }

  xp::ModelOutput forward(const torch::Tensor& input) override {
    xp::vision::check_image_input(input, in_channels_, "mobilenet_v2");
    torch::Tensor x = torch::adaptive_avg_pool2d(backbone_->forward(input), {1, 1}).flatten(1);
    xp::ModelOutput out;
    out.aux["features"] = x;
    if (dropout_) x = dropout_->forward(x);
    out.logits = head_->forward(x);
    return out;
  }

 private:
  int64_t in_channels_;
  torch::nn::Sequential backbone_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear head_{nullptr};
};

}  // namespace

XP_REGISTER_MODEL("mobilenet_v2", MobileNetV2);
