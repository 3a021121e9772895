#pragma once
// uint8 pixels -> the float values a model sees, per channel: x = v * scale[c] + shift[c].
//
// By default loader workers convert every sample to float (v / 255, or a final `normalize`
// transform) and the batch travels as float32. With `train.normalize_on_device` the loader keeps
// uint8 HWC samples instead, collates them into a uint8 [N, H, W, C] batch, and the trainer applies
// this conversion after the copy to the device: a quarter of the bytes to stack, pin and transfer,
// and the arithmetic runs on the GPU rather than on the CPU cores that decode JPEGs. Since uint8
// NHWC permuted to NCHW is exactly the channels_last layout, the result needs no further copy for
// channels_last models.

#include <optional>
#include <vector>

#include <torch/types.h>

namespace xp::data {

class PixelConversion {
 public:
  // v / 255: the loader's own conversion when the pipeline has no final `normalize`.
  static PixelConversion unit_range();
  // (v / max_pixel_value - mean) / std: a `normalize` transform (one value, or one per channel).
  static PixelConversion normalize(const std::vector<double>& mean, const std::vector<double>& std,
                                   double max_pixel_value);

  // The same conversion with its coefficients on `device`. The trainer makes this copy once: moving
  // them with every batch would be a host-to-device copy from pageable memory, which waits for the
  // GPU.
  PixelConversion to(const torch::Device& device) const;

  // [N, H, W, C] uint8 -> [N, C, H, W] float32 on the same device with channels_last strides.
  // Throws std::invalid_argument when C does not match per-channel coefficients.
  torch::Tensor apply(const torch::Tensor& nhwc) const;

  // A float sample (a transform before the deferred step already produced floats) gets what the
  // CPU pipeline would have given it: a deferred `normalize` applies to it, v / 255 never did.
  bool applies_to_float() const { return applies_to_float_; }
  // [C, H, W] float -> the conversion applied (when applies_to_float), else unchanged.
  torch::Tensor apply_to_float_chw(const torch::Tensor& chw) const;

 private:
  torch::Tensor scale_, shift_;  // [1, C or 1, 1, 1] float32
  bool applies_to_float_ = false;
  torch::Tensor broadcast(const torch::Tensor& coefficients, int64_t channels) const;
};

}  // namespace xp::data
