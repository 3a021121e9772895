#pragma once
// Building blocks shared by `unet` and `unet_plus_plus`: the double-conv block and the encoder
// (registered by the models under the name "encoder", so staged training can freeze "encoder.*").

#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>

#include "xp/params.h"
#include "xp/schema.h"

namespace xp::seg {

struct UNetOptions {
  int64_t in_channels = 3, out_channels = 1, depth = 3, base_width = 16;
  bool batch_norm = true;
  double dropout = 0.0;
  explicit UNetOptions(const Params& p);
  UNetOptions() = default;
  // Channels at level `i` (0 = full resolution): base_width * 2^i.
  int64_t width(int64_t level) const { return base_width << level; }
};

// Declares in_channels, out_channels, depth, base_width, batch_norm, dropout.
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

// Bilinear resize of `x` to the spatial size of `like` (odd sizes survive the pooling round trip).
torch::Tensor upsample_like(const torch::Tensor& x, const torch::Tensor& like);

}  // namespace xp::seg
