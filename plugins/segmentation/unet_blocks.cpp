#include "unet_blocks.h"

#include <torch/nn/functional/pooling.h>
#include <torch/nn/functional/upsampling.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>

namespace xp::seg {

namespace F = torch::nn::functional;

Schema& add_unet_options(Schema& s) {
  return s.add_int("in_channels", 0, "input bands; 0 = the dataset's band count (3 when built without one)")
      .range(0, 64)
      .add_int("out_channels", 1, "output logit maps (1 for binary segmentation)").range(1, 1024)
      .add_int("depth", 3, "number of 2x down-samplings (input sides should be multiples of 2^depth)").range(1, 6)
      .add_int("base_width", 16, "channels at full resolution, doubled at every level").range(1, 512)
      .add_bool("batch_norm", true, "batch normalisation after every convolution")
      .add_float("dropout", 0.0, "channel dropout after every conv block").range(0.0, 0.9);
}

UNetOptions::UNetOptions(const Params& p)
    : in_channels(p.get_int("in_channels") > 0 ? p.get_int("in_channels") : 3), out_channels(p.get_int("out_channels")), depth(p.get_int("depth")),
      base_width(p.get_int("base_width")), batch_norm(p.get_bool("batch_norm")), dropout(p.get_float("dropout")) {}

torch::nn::Sequential conv_block(int64_t in, int64_t out, bool batch_norm, double dropout) {
  torch::nn::Sequential block;
  for (int i = 0; i < 2; ++i) {
    block->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(i == 0 ? in : out, out, 3).padding(1).bias(!batch_norm)));
    if (batch_norm) block->push_back(torch::nn::BatchNorm2d(out));
    block->push_back(torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)));
  }
  if (dropout > 0.0) block->push_back(torch::nn::Dropout2d(dropout));
  return block;
}

EncoderImpl::EncoderImpl(const UNetOptions& o) {
  for (int64_t level = 0; level <= o.depth; ++level) {
    int64_t in = level == 0 ? o.in_channels : o.width(level - 1);
    stages_.push_back(register_module("stage" + std::to_string(level), conv_block(in, o.width(level), o.batch_norm, o.dropout)));
  }
}

std::vector<torch::Tensor> EncoderImpl::forward(const torch::Tensor& x) {
  std::vector<torch::Tensor> features;
  auto h = x;
  for (size_t level = 0; level < stages_.size(); ++level) {
    if (level > 0) h = F::max_pool2d(h, F::MaxPool2dFuncOptions(2).stride(2));
    h = stages_[level]->forward(h);
    features.push_back(h);
  }
  return features;
}

torch::Tensor upsample_like(const torch::Tensor& x, const torch::Tensor& like) {
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{like.size(2), like.size(3)})
                               .mode(torch::kBilinear)
                               .align_corners(false));
}

}  // namespace xp::seg
