#pragma once
// The crop, resize and mirror of decoder = "nvjpeg_batched" as one CUDA kernel launch per batch
// (gpu_crop.cu, compiled by nvcc where the nvJPEG stage is built). Plain CUDA runtime types only:
// the stage (nvjpeg_batch_stage.cpp) includes this from C++ and launches it on its own stream.

#include <cuda_runtime_api.h>

namespace xp::classification {

// One output image: the region (x, y, width, height) of an interleaved RGB uint8 source whose row
// r starts at source + r * pitch, resized to the batch's output size as cv::resize INTER_LINEAR
// does (centre-aligned source coordinates, clamped to the region so that its border replicates),
// then mirrored left-right when hflip. A region of the output's own size is copied exactly, which
// is how the images the loader's workers decoded join the batch.
struct GpuCrop {
  const unsigned char* source;
  int pitch;
  int x, y, width, height;
  int hflip;
};

// Writes out[i] (uint8 [out_height, out_width, 3], contiguous, i < n) from crops[i]; `crops` is in
// device memory. Returns the launch's error.
cudaError_t launch_batched_crop(const GpuCrop* crops, int n, unsigned char* out, int out_height, int out_width,
                                cudaStream_t stream);

}  // namespace xp::classification
