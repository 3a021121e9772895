#pragma once
// Building blocks shared by `unet` and `unet_plus_plus`: the double-conv block and the encoder
// (registered by the models under the name "encoder", so staged training can freeze "encoder.*"),
// built in or a model plugin that returns a feature pyramid (`encoder = { plugin = "torchscript",
// ... }`, a pretrained backbone exported from Python).

#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>

#include "xp/model.h"
#include "xp/params.h"
#include "xp/schema.h"

namespace xp::seg {

struct UNetOptions {
  int64_t in_channels = 3, out_channels = 1, depth = 3, base_width = 16;
  bool batch_norm = true;
  double dropout = 0.0;
  // Channels of the encoder's map at each level 0..depth; empty = the built-in encoder's, width().
  std::vector<int64_t> encoder_channels;
  explicit UNetOptions(const Params& p);
  UNetOptions() = default;
  // Channels of the decoder at level `i` (0 = the encoder's finest map): base_width * 2^i.
  int64_t width(int64_t level) const { return base_width << level; }
  // Channels of the encoder's map at level `i`.
  int64_t encoder_width(int64_t level) const {
    return encoder_channels.empty() ? width(level) : encoder_channels[static_cast<size_t>(level)];
  }
};

// Declares in_channels, out_channels, depth, base_width, batch_norm, dropout, encoder.
Schema& add_unet_options(Schema& schema);

// conv3x3 - [BN] - ReLU - conv3x3 - [BN] - ReLU - [Dropout2d]
torch::nn::Sequential conv_block(int64_t in, int64_t out, bool batch_norm, double dropout);

// Level 0 at full resolution, each further level after a 2x2 max-pool; returns every level.
class EncoderImpl : public torch::nn::Module {
 public:
  explicit EncoderImpl(const UNetOptions& o);
  std::vector<torch::Tensor> forward(const torch::Tensor& x);

 private:
  std::vector<torch::nn::Sequential> stages_;
};
TORCH_MODULE(Encoder);

// The model's encoder: the built-in one, or a model plugin (torchscript with mode = "pyramid") whose
// output carries maps aux["pyramid_0"] (finest) .. ["pyramid_{n-1}"]. A pretrained pyramid usually
// starts at stride 2 or 4: its decoder output is then below the input's resolution, and `final`, a
// conv block after a bilinear up-sampling to the input's size, brings the logits to the mask's size.
class UNetEncoder {
 public:
  // Builds the encoder, registers it in `owner` as "encoder" (and "final" when needed), and sets
  // o.depth and o.encoder_channels for a pyramid (probed with one forward in eval mode).
  UNetEncoder(torch::nn::Module& owner, const Params& p, UNetOptions& o);
  std::vector<torch::Tensor> forward(const torch::Tensor& x);
  // The decoder's output at the input's resolution (identity for the built-in encoder).
  torch::Tensor to_input_size(const torch::Tensor& decoded, const torch::Tensor& input);
  bool pretrained() const { return model_ != nullptr; }

 private:
  std::vector<torch::Tensor> pyramid(const ModelOutput& out) const;
  Encoder builtin_{nullptr};
  std::shared_ptr<Model> model_;
  std::string name_;  // "torchscript", for messages
  torch::nn::Sequential final_{nullptr};
};

// Bilinear resize of `x` to the spatial size of `like` (odd sizes survive the pooling round trip).
torch::Tensor upsample_like(const torch::Tensor& x, const torch::Tensor& like);

}  // namespace xp::seg
