// A small Vision Transformer (Dosovitskiy et al. 2021): pre-norm encoder blocks over patch tokens
// plus a class token. Attention is written out (not nn::MultiheadAttention) because the C++
// module's batch layout differs between LibTorch versions.
#include <xp/plugin.h>

#include <cmath>

#include <torch/nn/init.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "model_checks.h"

namespace {

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t dim, int64_t heads, double attention_dropout, double dropout)
      : heads_(heads), scale_(1.0 / std::sqrt(static_cast<double>(dim / heads))) {
    qkv = register_module("qkv", torch::nn::Linear(dim, 3 * dim));
    proj = register_module("proj", torch::nn::Linear(dim, dim));
    attention_dropout_ = register_module("attention_dropout", torch::nn::Dropout(attention_dropout));
    dropout_ = register_module("dropout", torch::nn::Dropout(dropout));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    const int64_t b = x.size(0), n = x.size(1), d = x.size(2);
    auto qkv_heads = qkv->forward(x).reshape({b, n, 3, heads_, d / heads_}).permute({2, 0, 3, 1, 4});
    torch::Tensor q = qkv_heads[0], k = qkv_heads[1], v = qkv_heads[2];  // [B, heads, N, d/heads]
    torch::Tensor attention = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) * scale_, -1);
    attention = attention_dropout_->forward(attention);
    torch::Tensor y = torch::matmul(attention, v).transpose(1, 2).reshape({b, n, d});
    return dropout_->forward(proj->forward(y));
  }
  torch::nn::Linear qkv{nullptr}, proj{nullptr};

 private:
  int64_t heads_;
  double scale_;
  torch::nn::Dropout attention_dropout_{nullptr}, dropout_{nullptr};
};
TORCH_MODULE(Attention);

class EncoderBlockImpl : public torch::nn::Module {
 public:
  EncoderBlockImpl(int64_t dim, int64_t heads, int64_t mlp_dim, double attention_dropout, double dropout) {
    norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6)));
    attention = register_module("attention", Attention(dim, heads, attention_dropout, dropout));
    norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6)));
    fc1 = register_module("fc1", torch::nn::Linear(dim, mlp_dim));
    fc2 = register_module("fc2", torch::nn::Linear(mlp_dim, dim));
    dropout_ = register_module("dropout", torch::nn::Dropout(dropout));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = x + attention->forward(norm1->forward(x));
    torch::Tensor y = dropout_->forward(torch::gelu(fc1->forward(norm2->forward(x))));
    return x + dropout_->forward(fc2->forward(y));
  }
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Attention attention{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};

 private:
  torch::nn::Dropout dropout_{nullptr};
};
TORCH_MODULE(EncoderBlock);

// Everything up to the pooled features, under one name so "backbone.*" freezes all of it.
class VitBackboneImpl : public torch::nn::Module {
 public:
  VitBackboneImpl(int64_t in_channels, int64_t patch, int64_t tokens, int64_t dim, int64_t depth, int64_t heads,
                  int64_t mlp_dim, double attention_dropout, double dropout) {
    patch_embed = register_module(
        "patch_embed", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, dim, patch).stride(patch)));
    cls_token = register_parameter("cls_token", torch::zeros({1, 1, dim}));
    pos_embed = register_parameter("pos_embed", torch::zeros({1, tokens + 1, dim}));
    dropout_ = register_module("dropout", torch::nn::Dropout(dropout));
    blocks = register_module("blocks", torch::nn::ModuleList());
    for (int64_t i = 0; i < depth; ++i) blocks->push_back(EncoderBlock(dim, heads, mlp_dim, attention_dropout, dropout));
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6)));

    torch::NoGradGuard no_grad;
    pos_embed.normal_(0.0, 0.02);
    for (auto& m : modules(/*include_self=*/false))
      if (auto* fc = m->as<torch::nn::Linear>()) {
        torch::nn::init::xavier_uniform_(fc->weight);
        torch::nn::init::zeros_(fc->bias);
      }
  }
  // Returns the normalised tokens [B, 1 + patches, dim], class token first.
  torch::Tensor forward(const torch::Tensor& images) {
    torch::Tensor x = patch_embed->forward(images).flatten(2).transpose(1, 2);
    x = torch::cat({cls_token.expand({x.size(0), -1, -1}), x}, 1) + pos_embed;
    x = dropout_->forward(x);
    for (auto& block : *blocks) x = block->as<EncoderBlock>()->forward(x);
    return norm->forward(x);
  }
  torch::nn::Conv2d patch_embed{nullptr};
  torch::Tensor cls_token, pos_embed;
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};

 private:
  torch::nn::Dropout dropout_{nullptr};
};
TORCH_MODULE(VitBackbone);

class Vit : public xp::Model {
 public:
  static xp::Schema schema() {
    return xp::Schema(
               "Vision Transformer. Modules: backbone.patch_embed, backbone.cls_token, backbone.pos_embed, "
               "backbone.blocks.<i>, backbone.norm, head; aux[\"features\"] = pooled features")
        .tasks({"classification"})  // logits [B, K]
        .add_int("image_size", 32, "input height and width (square)").range(4, 1024)
        .add_int("patch_size", 4, "patch height and width; must divide image_size").range(1, 256)
        .add_int("in_channels", 3, "input channels (1 grey, 3 colour)").range(1, 64)
        .add_int("dim", 192, "token width; must be divisible by heads").range(8, 4096)
        .add_int("depth", 6, "encoder blocks").range(1, 48)
        .add_int("heads", 3, "attention heads").range(1, 64)
        .add_float("mlp_ratio", 4.0, "hidden width of each block's MLP, as a multiple of dim").range(0.25, 16.0)
        .add_float("dropout", 0.0, "dropout on tokens, MLP and attention output").range(0.0, 0.99)
        .add_float("attention_dropout", 0.0, "dropout on attention weights").range(0.0, 0.99)
        .add_string("pool", "cls", "features: the class token or the mean of the patch tokens").choices({"cls", "mean"})
        .add_int("num_classes", 0, "output classes (0 = from the dataset)").min(0);
  }

  explicit Vit(const xp::Params& p)
      : image_size_(p.get_int("image_size")), in_channels_(p.get_int("in_channels")), mean_pool_(p.get_string("pool") == "mean") {
    int64_t classes = xp::vision::require_num_classes(p.get_int("num_classes"), "vit");
    int64_t patch = p.get_int("patch_size"), dim = p.get_int("dim"), heads = p.get_int("heads");
    if (image_size_ % patch != 0)
      throw std::invalid_argument("vit: patch_size " + std::to_string(patch) + " does not divide image_size " +
                                  std::to_string(image_size_));
    if (dim % heads != 0)
      throw std::invalid_argument("vit: dim " + std::to_string(dim) + " is not divisible by heads " + std::to_string(heads));
    int64_t tokens = (image_size_ / patch) * (image_size_ / patch);
    int64_t mlp_dim = std::max<int64_t>(1, static_cast<int64_t>(std::lround(dim * p.get_float("mlp_ratio"))));
    backbone_ = register_module("backbone", VitBackbone(in_channels_, patch, tokens, dim, p.get_int("depth"), heads,
                                                        mlp_dim, p.get_float("attention_dropout"), p.get_float("dropout")));
    head_ = register_module("head", torch::nn::Linear(dim, classes));
    torch::NoGradGuard no_grad;
    torch::nn::init::zeros_(head_->weight);  // the ViT recipe: start from uniform predictions
    torch::nn::init::zeros_(head_->bias);
  }

  xp::ModelOutput forward(const torch::Tensor& input) override {
    xp::vision::check_image_input(input, in_channels_, "vit");
    if (input.size(2) != image_size_ || input.size(3) != image_size_)
      throw std::invalid_argument("vit: built for " + std::to_string(image_size_) + "x" + std::to_string(image_size_) +
                                  " images, got " + xp::vision::shape_string(input) + " (resize, or set image_size)");
    torch::Tensor tokens = backbone_->forward(input);
    xp::ModelOutput out;
    out.aux["features"] = mean_pool_ ? tokens.slice(1, 1).mean(1) : tokens.select(1, 0);
    out.logits = head_->forward(out.aux["features"]);
    return out;
  }

 private:
  int64_t image_size_, in_channels_;
  bool mean_pool_;
  VitBackbone backbone_{nullptr};
  torch::nn::Linear head_{nullptr};
};

}  // namespace

XP_REGISTER_MODEL("vit", Vit);
