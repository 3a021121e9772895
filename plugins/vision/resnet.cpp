// ResNet (He et al. 2016) with basic blocks (18/34) or bottlenecks (50/101/152), a width
// multiplier, and a small-input stem (3x3 stride-1 conv, no max-pool) for 28-32 px images, where
// the ImageNet stem would shrink the image to 7x7 before the first block.
#include <xp/plugin.h>

#include <cmath>

#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include "model_checks.h"
#include "stack.h"

namespace {

using torch::nn::BatchNorm2d;
using torch::nn::Conv2d;
using torch::nn::Conv2dOptions;

Conv2d conv(int64_t in, int64_t out, int64_t k, int64_t stride) {
  return Conv2d(Conv2dOptions(in, out, k).stride(stride).padding(k / 2).bias(false));
}

// One residual block; `bottleneck` selects 1x1-3x3-1x1 (expansion 4) over 3x3-3x3.
class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(int64_t in, int64_t width, int64_t stride, bool bottleneck) {
    int64_t out = bottleneck ? width * 4 : width;
    if (bottleneck) {
      conv1 = register_module("conv1", conv(in, width, 1, 1));
      bn1 = register_module("bn1", BatchNorm2d(width));
      conv2 = register_module("conv2", conv(width, width, 3, stride));
      bn2 = register_module("bn2", BatchNorm2d(width));
      conv3 = register_module("conv3", conv(width, out, 1, 1));
      bn3 = register_module("bn3", BatchNorm2d(out));
    } else {
      conv1 = register_module("conv1", conv(in, width, 3, stride));
      bn1 = register_module("bn1", BatchNorm2d(width));
      conv2 = register_module("conv2", conv(width, width, 3, 1));
      bn2 = register_module("bn2", BatchNorm2d(width));
    }
    if (stride != 1 || in != out)
      downsample = register_module("downsample", torch::nn::Sequential(conv(in, out, 1, stride), BatchNorm2d(out)));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor y = torch::relu(bn1->forward(conv1->forward(x)));
    y = bn2->forward(conv2->forward(y));
    if (conv3) y = bn3->forward(conv3->forward(torch::relu(y)));
    return torch::relu(y + (downsample ? downsample->forward(x) : x));
  }

  // The BN whose output joins the residual sum; zeroing it makes each block start as identity.
  BatchNorm2d last_bn() const { return bn3 ? bn3 : bn2; }

  Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(Block);

class ResNet : public xp::Model {
 public:
  static xp::Schema schema() {
    return xp::Schema(
               "ResNet 18/34 (basic blocks) or 50/101/152 (bottlenecks). Modules: backbone.stem, "
               "backbone.layer1..layer4, head")
        .tasks({"classification"})  // logits [B, K]
        .add_int("depth", 18, "number of layers").choices({18, 34, 50, 101, 152})
        .add_float("width", 1.0, "width multiplier on the channels 64/128/256/512").range(0.0625, 4.0)
        .add_int("in_channels", 3, "input channels (1 grey, 3 colour)").range(1, 64)
        .add_bool("small_input", false, "3x3 stride-1 stem without max-pool, for 28-32 px images")
        .add_bool("zero_init_residual", false, "start every block as identity (zero last BN gamma)")
        .add_float("dropout", 0.0, "dropout before the head").range(0.0, 0.99)
        .add_int("num_classes", 0, "output classes (0 = from the dataset)").min(0);
  }

  explicit ResNet(const xp::Params& p) : in_channels_(p.get_int("in_channels")) {
    int64_t classes = xp::vision::require_num_classes(p.get_int("num_classes"), "resnet");
    int64_t depth = p.get_int("depth");
    bool bottleneck = depth >= 50;
    std::vector<int64_t> counts = depth == 18    ? std::vector<int64_t>{2, 2, 2, 2}
                                  : depth == 34  ? std::vector<int64_t>{3, 4, 6, 3}
                                  : depth == 50  ? std::vector<int64_t>{3, 4, 6, 3}
                                  : depth == 101 ? std::vector<int64_t>{3, 4, 23, 3}
                                                 : std::vector<int64_t>{3, 8, 36, 3};
    double width = p.get_float("width");
    auto scaled = [&](int64_t c) { return std::max<int64_t>(1, static_cast<int64_t>(std::lround(c * width))); };

    backbone_ = register_module("backbone", torch::nn::Sequential());
    int64_t channels = scaled(64);
    if (p.get_bool("small_input")) {
      backbone_->push_back("stem", xp::vision::Stack(conv(in_channels_, channels, 3, 1), BatchNorm2d(channels),
                                                         torch::nn::ReLU()));
    } else {
      backbone_->push_back("stem", xp::vision::Stack(conv(in_channels_, channels, 7, 2), BatchNorm2d(channels),
                                                         torch::nn::ReLU(),
                                                         torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1))));
    }
    std::vector<Block> blocks;
    for (size_t stage = 0; stage < 4; ++stage) {
      int64_t block_width = scaled(64 << stage);
      xp::vision::Stack layer;
      for (int64_t i = 0; i < counts[stage]; ++i) {
        Block b(channels, block_width, (stage > 0 && i == 0) ? 2 : 1, bottleneck);
        channels = bottleneck ? block_width * 4 : block_width;
        blocks.push_back(b);
        layer->push_back(b);
      }
      backbone_->push_back("layer" + std::to_string(stage + 1), layer);
    }
    double dropout = p.get_float("dropout");
    if (dropout > 0) dropout_ = register_module("dropout", torch::nn::Dropout(dropout));
    head_ = register_module("head", torch::nn::Linear(channels, classes));

    // torchvision's initialisation, so results are comparable with the usual references.
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* c = m->as<torch::nn::Conv2d>()) {
        torch::nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
      } else if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
        torch::nn::init::ones_(bn->weight);
        torch::nn::init::zeros_(bn->bias);
      }
    }
    if (p.get_bool("zero_init_residual"))
      for (auto& b : blocks) torch::nn::init::zeros_(b->last_bn()->weight);
  }

  xp::ModelOutput forward(const torch::Tensor& input) override {
    xp::vision::check_image_input(input, in_channels_, "resnet");
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

XP_REGISTER_MODEL("resnet", ResNet);
