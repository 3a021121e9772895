// A multi-layer perceptron on flattened images: the baseline every image benchmark starts from.
#include <xp/plugin.h>

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/activation.h>

#include "model_checks.h"

namespace {

class Mlp : public xp::Model {
 public:
  static xp::Schema schema() {
    return xp::Schema("Multi-layer perceptron on the flattened image. Modules: backbone (hidden layers), head")
        .tasks({"classification"})  // logits [B, K]
        .add_int("input_size", 784, "number of input features = C*H*W (784 for 28x28 grey)").min(1)
        .add_ints("hidden", {256, 128}, "sizes of the hidden layers (empty = linear classifier)").range(1, 1 << 20)
        .add_float("dropout", 0.0, "dropout after each hidden activation").range(0.0, 0.99)
        .add_int("num_classes", 0, "output classes (0 = from the dataset)").min(0);
  }

  explicit Mlp(const xp::Params& p) : input_size_(p.get_int("input_size")) {
    int64_t classes = xp::vision::require_num_classes(p.get_int("num_classes"), "mlp");
    double dropout = p.get_float("dropout");
    backbone_ = register_module("backbone", torch::nn::Sequential());
    int64_t width = input_size_;
    for (int64_t h : p.get_ints("hidden")) {
      backbone_->push_back(torch::nn::Linear(width, h));
      backbone_->push_back(torch::nn::ReLU());
      if (dropout > 0) backbone_->push_back(torch::nn::Dropout(dropout));
      width = h;
    }
    head_ = register_module("head", torch::nn::Linear(width, classes));
  }

  xp::ModelOutput forward(const torch::Tensor& input) override {
    torch::Tensor x = input.flatten(1);
    if (x.size(1) != input_size_)
      throw std::invalid_argument("mlp: input " + xp::vision::shape_string(input) + " has " +
                                  std::to_string(x.size(1)) + " features but input_size is " +
                                  std::to_string(input_size_));
    if (!backbone_->is_empty()) x = backbone_->forward(x);
    xp::ModelOutput out;
    out.aux["features"] = x;
    out.logits = head_->forward(x);
    return out;
  }

 private:
  int64_t input_size_;
  torch::nn::Sequential backbone_{nullptr};
  torch::nn::Linear head_{nullptr};
};

}  // namespace

XP_REGISTER_MODEL("mlp", Mlp);
