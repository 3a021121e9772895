#pragma once
// decoder = "nvjpeg_batched": the batch decode stage (xp/batch_decode.h) on NVIDIA's nvJPEG.
//
// The collating thread hands it a batch: the JPEGs left to it are decoded with nvJPEG's batched
// API on the GPU's hardware JPEG decoder (NVJPEG_BACKEND_HARDWARE, A100/H100/H200; the default
// GPU backend where there is none, and for files the hardware refuses), into one padded device
// buffer; the images the workers decoded go up beside them in one copy; then one kernel launch
// (gpu_crop.cu) crops, resizes (bilinear, source coordinates clamped inside the crop as cv::resize
// does) and mirrors every image into the batch. All of it runs on the stage's own CUDA stream,
// with one host wait per batch, never behind the training steps on the trainer's stream. The
// result is the uint8 [N, H, W, 3] batch on the GPU.
// Built only where CMake found nvjpeg.h with a CUDA LibTorch (XP_HAVE_NVJPEG) and nvcc (XP_HAVE_GPU_CROP).

#include <memory>
#include <string>

#include <xp/batch_decode.h>

namespace xp::classification {

// The stage, or null with `why` set (no nvJPEG in this build, no CUDA device, ...).
// share: the GPU's fixed share of each batch in [0, 1], or negative for the measured split.
std::shared_ptr<BatchDecodeStage> make_nvjpeg_batch_stage(double share, std::string& why);

}  // namespace xp::classification
