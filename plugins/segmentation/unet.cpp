// U-Net (Ronneberger et al. 2015): encoder, decoder with skip connections, 1x1 head.
#include "unet_blocks.h"
#include "xp/plugin.h"

#include <torch/nn/modules/conv.h>

namespace xp::seg {
namespace {

class DecoderImpl : public torch::nn::Module {
 public:
  DecoderImpl(const UNetOptions& o, bool transpose) : transpose_(transpose) {
    for (int64_t level = o.depth - 1; level >= 0; --level) {
      // From below: the encoder's deepest map first, then the decoder's own; the skip is the encoder's.
      int64_t below = level == o.depth - 1 ? o.encoder_width(level + 1) : o.width(level + 1);
      int64_t here = o.width(level), skip = o.encoder_width(level);
      auto suffix = std::to_string(level);
      if (transpose_) {
        ups_.push_back(register_module("up" + suffix,
                                       torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(below, here, 2).stride(2))));
        blocks_.push_back(register_module("block" + suffix, conv_block(here + skip, here, o.batch_norm, o.dropout)));
      } else {
        blocks_.push_back(register_module("block" + suffix, conv_block(below + skip, here, o.batch_norm, o.dropout)));
      }
    }
  }

  torch::Tensor forward(const std::vector<torch::Tensor>& features) {
    auto h = features.back();
    for (size_t i = 0; i < blocks_.size(); ++i) {
      const auto& skip = features[features.size() - 2 - i];
      if (transpose_) h = ups_[i]->forward(h);
      h = upsample_like(h, skip);  // a no-op unless a side was odd
      h = blocks_[i]->forward(torch::cat({h, skip}, 1));
    }
    return h;
  }

 private:
  bool transpose_;
  std::vector<torch::nn::ConvTranspose2d> ups_;
  std::vector<torch::nn::Sequential> blocks_;
};
TORCH_MODULE(Decoder);

class UNet : public Model {
 public:
  static Schema schema() {
    Schema s("U-Net: encoder / decoder with skip connections (Ronneberger et al. 2015); "
             "submodules encoder (built in, or a pretrained pyramid: encoder = {...}), decoder, head, final "
             "(pretrained encoders whose finest map is below the input's resolution)");
    s.tasks({"segmentation"});
    add_unet_options(s);
    s.add_string("upsample", "bilinear", "decoder up-sampling: bilinear (+conv) or transpose (learned 2x2)")
        .choices({"bilinear", "transpose"});
    return s;
  }

  explicit UNet(const Params& p) : options_(p), encoder_(*this, p, options_) {
    decoder_ = register_module("decoder", Decoder(options_, p.get_string("upsample") == "transpose"));
    head_ = register_module("head", torch::nn::Conv2d(torch::nn::Conv2dOptions(options_.width(0), options_.out_channels, 1)));
  }

  ModelOutput forward(const torch::Tensor& input) override {
    if (input.dim() != 4 || input.size(1) != options_.in_channels)
      throw ConfigError("unet: expects input [B," + std::to_string(options_.in_channels) + ",H,W], got " +
                        std::to_string(input.dim()) + "-d input with " +
                        std::to_string(input.dim() > 1 ? input.size(1) : 0) + " channels (set in_channels)");
    ModelOutput out;
    out.logits = head_->forward(encoder_.to_input_size(decoder_->forward(encoder_.forward(input)), input));
    return out;
  }

 private:
  UNetOptions options_;
  UNetEncoder encoder_;
  Decoder decoder_{nullptr};
  torch::nn::Conv2d head_{nullptr};
};

}  // namespace
}  // namespace xp::seg

XP_REGISTER_MODEL("unet", xp::seg::UNet);
