#pragma once
// What flows through the data pipeline: a Sample per item (OpenCV images, so augmentations can use
// OpenCV directly), collated into a Batch of tensors for the model, loss and metrics.

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <opencv2/core.hpp>
#include <torch/types.h>

#include "xp/encoded_image.h"

namespace xp {

struct Sample {
  cv::Mat image;  // H x W x C, CV_8U (as decoded) or CV_32F (after `normalize`)
  cv::Mat mask;   // H x W, CV_8U (0/1, ignore value e.g. 255) or CV_32F soft labels; empty if none
  int64_t label = -1;                     // class index (classification)
  std::map<std::string, int64_t> labels;  // further targets, e.g. {"species", 3}
  int64_t index = -1;                     // index in its split
  std::string source;                     // file path or generator id, for reports
  // Set (with `image` empty) when the dataset left decoding to the pipeline: Split::load_lazy.
  std::shared_ptr<const EncodedImage> encoded;
};

// Decodes a still-encoded image in full (nothing to do otherwise).
inline void decode_pending(Sample& sample) {
  if (!sample.encoded) return;
  if (sample.image.empty()) sample.image = sample.encoded->decode();
  sample.encoded.reset();
}

struct Batch {
  torch::Tensor input;        // [B, C, H, W] float32
  torch::Tensor target;       // [B] int64 (classification) or [B, 1, H, W] float32 (segmentation)
  torch::Tensor soft_target;  // [B, K] float32 mixed labels (mixup/cutmix), undefined otherwise
  std::map<std::string, torch::Tensor> extra;  // further targets by name, e.g. "species"
  torch::Tensor index;        // [B] int64 dataset indices
  int64_t size() const { return input.defined() ? input.size(0) : 0; }
};

}  // namespace xp
