// UNet++ (Zhou et al. 2018): nested, densely connected skip pathways. Node X(i,j) at level i takes
// every earlier node of its level and the up-sampled X(i+1,j-1). With deep supervision the heads
// on X(0,1..depth-1) are returned as aux "ds_1".."ds_{depth-1}"; the logits are always X(0,depth).
#include "unet_blocks.h"
#include "xp/plugin.h"

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>

namespace xp::seg {
namespace {

class NestedDecoderImpl : public torch::nn::Module {
 public:
  explicit NestedDecoderImpl(const UNetOptions& o) : depth_(o.depth) {
    for (int64_t j = 1; j <= depth_; ++j)
      for (int64_t i = 0; i + j <= depth_; ++i) {
        // X(i,0) is the encoder's map, X(i,1..j-1) the decoder's, and the one from below is the
        // encoder's when j = 1.
        int64_t in = o.encoder_width(i) + (j - 1) * o.width(i) + (j == 1 ? o.encoder_width(i + 1) : o.width(i + 1));
        nodes_[{i, j}] = register_module("x" + std::to_string(i) + "_" + std::to_string(j),
                                         conv_block(in, o.width(i), o.batch_norm, o.dropout));
      }
  }

  // Returns X(0,1) .. X(0,depth).
  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor>& encoder_features) {
    // grid[i][j] = X(i,j)
    std::vector<std::vector<torch::Tensor>> grid(depth_ + 1);
    for (int64_t i = 0; i <= depth_; ++i) grid[i].push_back(encoder_features[i]);
    for (int64_t j = 1; j <= depth_; ++j)
      for (int64_t i = 0; i + j <= depth_; ++i) {
        std::vector<torch::Tensor> inputs(grid[i].begin(), grid[i].begin() + j);
        inputs.push_back(upsample_like(grid[i + 1][j - 1], grid[i][0]));
        grid[i].push_back(nodes_.at({i, j})->forward(torch::cat(inputs, 1)));
      }
    return {grid[0].begin() + 1, grid[0].end()};
  }

 private:
  int64_t depth_;
  std::map<std::pair<int64_t, int64_t>, torch::nn::Sequential> nodes_;
};
TORCH_MODULE(NestedDecoder);

class UNetPlusPlus : public Model {
 public:
  static Schema schema() {
    Schema s("UNet++: U-Net with nested dense skip pathways (Zhou et al. 2018); "
             "submodules encoder (built in, or a pretrained pyramid: encoder = {...}), decoder, head, ds_heads, "
             "final (pretrained encoders whose finest map is below the input's resolution)");
    s.tasks({"segmentation"});
    add_unet_options(s);
    s.add_bool("deep_supervision", false, "also return heads on the shallower nested outputs as aux ds_1..");
    return s;
  }

  explicit UNetPlusPlus(const Params& p)
      : options_(p), deep_supervision_(p.get_bool("deep_supervision")), encoder_(*this, p, options_) {
    decoder_ = register_module("decoder", NestedDecoder(options_));
    auto head = [&] { return torch::nn::Conv2d(torch::nn::Conv2dOptions(options_.width(0), options_.out_channels, 1)); };
    head_ = register_module("head", head());
    if (deep_supervision_) {
      ds_heads_ = register_module("ds_heads", torch::nn::ModuleList());
      for (int64_t j = 1; j < options_.depth; ++j) ds_heads_->push_back(head());
    }
  }

  ModelOutput forward(const torch::Tensor& input) override {
    if (input.dim() != 4 || input.size(1) != options_.in_channels)
      throw ConfigError("unet_plus_plus: expects input [B," + std::to_string(options_.in_channels) +
                        ",H,W], got " + std::to_string(input.dim()) + "-d input with " +
                        std::to_string(input.dim() > 1 ? input.size(1) : 0) + " channels (set in_channels)");
    auto nested = decoder_->forward(encoder_.forward(input));
    ModelOutput out;
    out.logits = head_->forward(encoder_.to_input_size(nested.back(), input));
    // The shallower heads of a pretrained pyramid are at its finest stride: resized to the mask's size.
    if (deep_supervision_)
      for (size_t j = 0; j + 1 < nested.size(); ++j) {
        torch::Tensor ds = ds_heads_[j]->as<torch::nn::Conv2d>()->forward(nested[j]);
        if (ds.size(2) != input.size(2) || ds.size(3) != input.size(3)) ds = upsample_like(ds, input);
        out.aux["ds_" + std::to_string(j + 1)] = ds;
      }
    return out;
  }

 private:
  UNetOptions options_;
  bool deep_supervision_;
  UNetEncoder encoder_;
  NestedDecoder decoder_{nullptr};
  torch::nn::Conv2d head_{nullptr};
  torch::nn::ModuleList ds_heads_{nullptr};
};

}  // namespace
}  // namespace xp::seg

XP_REGISTER_MODEL("unet_plus_plus", xp::seg::UNetPlusPlus);
