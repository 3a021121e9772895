#pragma once
// Turning decoded samples into the tensors a model sees. Loader workers convert each sample on
// their own thread (prepare_sample), so the thread that assembles batches only has to stack.

#include <map>
#include <string>
#include <vector>

#include "data/pixel_conversion.h"
#include "xp/batch_decode.h"
#include "xp/dataset.h"
#include "xp/sample.h"

namespace xp::data {

struct PreparedSample {
  torch::Tensor image;  // [C, H, W] float32, or [H, W, C] uint8 when the conversion is deferred
  torch::Tensor mask;   // [1, H, W] float32, undefined when the sample has none
  int64_t label = -1;
  std::map<std::string, int64_t> labels;
  int64_t index = -1;
  std::string source;
  // Set instead of `image` when a batch stage decodes this sample (xp/batch_decode.h).
  std::shared_ptr<const PlannedCrop> pending;
  int examined = -1;  // the stage's examine() of `pending`, done on the worker's thread
};

// uint8 HWC -> float CHW / 255 (uint16 / 65535); float images are taken as they are (already normalized).
// Masks keep their values (0/1, soft labels, the ignore value 255).
// With `deferred` (the conversion happens after collation, on the training device) a uint8 image
// stays uint8 HWC; a float one is converted to CHW and gets `deferred`'s float rule.
// `pinned`: a uint8 HWC image is written into page-locked memory (for a batch stage's upload).
PreparedSample prepare_sample(const Sample& sample, const PixelConversion* deferred = nullptr, bool pinned = false);

// Stacks equally shaped CPU tensors into a new [N, ...] tensor, page-locked when `pinned` (which
// saves the copy a separate pin_memory() would make).
torch::Tensor stack_samples(const std::vector<torch::Tensor>& parts, bool pinned);

// Stacks prepared samples into a Batch. Classification targets are the labels, segmentation
// targets the masks. Throws std::runtime_error naming two samples whose sizes differ.
// `pinned`: the input tensor is allocated in page-locked memory (for non-blocking copies to CUDA).
// uint8 samples make a uint8 [N, H, W, C] input; when a batch mixes them with float samples, the
// uint8 ones are converted here with `deferred` and the input is float [N, C, H, W] as usual.
// Samples left to a batch stage (`pending`) are decoded by it, with the others uploaded beside them:
// the input is then uint8 [N, H, W, C] on the stage's device. Samples the stage cannot decode are
// left out of the batch and listed in `failed` (index into `samples`, reason); without `failed`
// such a sample throws xp::BadSample.
Batch collate(const std::vector<PreparedSample>& samples, Task task, bool pinned = false,
              const PixelConversion* deferred = nullptr,
              std::vector<std::pair<size_t, std::string>>* failed = nullptr);

}  // namespace xp::data
