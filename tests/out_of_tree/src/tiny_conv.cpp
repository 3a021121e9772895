// model "tiny_conv": one 3x3 convolution, global average pooling and a linear classifier. Small
// enough to train in seconds on a CPU; enough to tell stripe orientations apart.
#include <torch/torch.h>

#include "xp/plugin.h"

namespace {

class TinyConv : public xp::Model {
 public:
  static xp::Schema schema() {
    return xp::Schema("conv3x3 + ReLU + global average pool + linear")
        .add_int("num_classes", 0, "output classes (0 = from the dataset)").min(0)
        .add_int("channels", 3, "input channels").min(1)
        .add_int("width", 8, "convolution filters").range(1, 1024);
  }
  explicit TinyConv(const xp::Params& p) {
    // The host fills num_classes from the dataset before construction; 0 here means it could not.
    const int64_t classes = p.get_int("num_classes");
    if (classes < 1) throw xp::ConfigError("tiny_conv: num_classes is 0 and the dataset did not say", p.where());
    conv_ = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(p.get_int("channels"),
                                                                               p.get_int("width"), 3).padding(1)));
    head_ = register_module("head", torch::nn::Linear(p.get_int("width"), classes));
  }
  xp::ModelOutput forward(const torch::Tensor& input) override {
    auto features = torch::relu(conv_->forward(input)).mean({2, 3});
    return {head_->forward(features), {{"features", features}}};
  }

 private:
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::Linear head_{nullptr};
};

}  // namespace

XP_REGISTER_MODEL("tiny_conv", TinyConv);
