// Two conv + BatchNorm + max-pool blocks and a fully connected head: the small network that
// reaches ~0.93 on Fashion-MNIST, and a quick sanity model for any new dataset.
#include <xp/plugin.h>

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

class SimpleCnn : public xp::Model {
 public:
  static xp::Schema schema() {
    return xp::Schema(
               "2 x (conv3x3 + BN + ReLU + maxpool2) then FC layers. Modules: backbone.block1, "
               "backbone.block2, head")
        .tasks({"classification"})  // logits [B, K]
        .add_int("in_channels", 1, "input channels (1 grey, 3 colour)").range(1, 64)
        .add_ints("channels", {32, 64}, "output channels of the two conv blocks").range(1, 4096)
        .add_int("pooled_size", 7, "feature maps are average-pooled to this size before the head "
                                   "(7 = no-op for 28x28 inputs; any input size works)").range(1, 64)
        .add_int("hidden", 128, "width of the hidden FC layer (0 = none)").range(0, 1 << 16)
        .add_float("dropout", 0.25, "dropout before each FC layer").range(0.0, 0.99)
        .add_int("num_classes", 0, "output classes (0 = from the dataset)").min(0);
  }

  explicit SimpleCnn(const xp::Params& p) : in_channels_(p.get_int("in_channels")) {
    int64_t classes = xp::vision::require_num_classes(p.get_int("num_classes"), "simple_cnn");
    auto channels = p.get_ints("channels");
    if (channels.size() != 2)
      throw std::invalid_argument("simple_cnn: channels must have 2 entries, got " + std::to_string(channels.size()));
    pooled_size_ = p.get_int("pooled_size");
    double dropout = p.get_float("dropout");
    int64_t hidden = p.get_int("hidden");

    backbone_ = register_module("backbone", torch::nn::Sequential());
    backbone_->push_back("block1", block(in_channels_, channels[0]));
    backbone_->push_back("block2", block(channels[0], channels[1]));

    head_ = register_module("head", torch::nn::Sequential());
    int64_t width = channels[1] * pooled_size_ * pooled_size_;
    if (hidden > 0) {
      if (dropout > 0) head_->push_back(torch::nn::Dropout(dropout));
      head_->push_back(torch::nn::Linear(width, hidden));
      head_->push_back(torch::nn::ReLU());
      width = hidden;
    }
    if (dropout > 0) head_->push_back(torch::nn::Dropout(dropout));
    head_->push_back(torch::nn::Linear(width, classes));
  }

  xp::ModelOutput forward(const torch::Tensor& input) override {
    xp::vision::check_image_input(input, in_channels_, "simple_cnn");
    torch::Tensor x = backbone_->forward(input);
    // Pooling a 7 x 7 map to 7 x 7 is the identity but not free: a copy forward and a scatter
    // backward (a tenth of a Fashion-MNIST step on the CPU). Only other sizes are pooled.
    if (x.size(2) != pooled_size_ || x.size(3) != pooled_size_)
      x = torch::adaptive_avg_pool2d(x, {pooled_size_, pooled_size_});
    x = x.flatten(1);
    xp::ModelOutput out;
    out.aux["features"] = x;
    out.logits = head_->forward(x);
    return out;
  }

 private:
  static xp::vision::Stack block(int64_t in, int64_t out) {
    return xp::vision::Stack(
        torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(false)),
        torch::nn::BatchNorm2d(out), torch::nn::ReLU(), torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2)));
  }

  int64_t in_channels_;
  int64_t pooled_size_ = 7;
  torch::nn::Sequential backbone_{nullptr}, head_{nullptr};
};

}  // namespace

XP_REGISTER_MODEL("simple_cnn", SimpleCnn);
