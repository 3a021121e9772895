#pragma once
// Turning decoded samples into the tensors a model sees. Loader workers convert each sample on
// their own thread (prepare_sample), so the thread that assembles batches only has to stack.

#include <map>
#include <string>
#include <vector>

#include "xp/dataset.h"
#include "xp/sample.h"

namespace xp::data {

struct PreparedSample {
  torch::Tensor image;  // [C, H, W] float32
  torch::Tensor mask;   // [1, H, W] float32, undefined when the sample has none
  int64_t label = -1;
  std::map<std::string, int64_t> labels;
  int64_t index = -1;
  std::string source;
};

// uint8 HWC -> float CHW / 255; float images are taken as they are (already normalized).
// Masks keep their values (0/1, soft labels, the ignore value 255).
PreparedSample prepare_sample(const Sample& sample);

// Stacks prepared samples into a Batch. Classification targets are the labels, segmentation
// targets the masks. Throws std::runtime_error naming two samples whose sizes differ.
// `pinned`: the input tensor is allocated in page-locked memory (for non-blocking copies to CUDA).
Batch collate(const std::vector<PreparedSample>& samples, Task task, bool pinned = false);

}  // namespace xp::data
