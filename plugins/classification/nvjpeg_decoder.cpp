#include "nvjpeg_decoder.h"

#include <xp/errors.h>

#ifdef XP_HAVE_NVJPEG
#include <cuda_runtime_api.h>
#include <nvjpeg.h>
#endif

namespace xp::classification {

#ifndef XP_HAVE_NVJPEG

std::string nvjpeg_unavailable_reason() {
  return "this build of xp has no nvJPEG (CMake found no nvjpeg.h / libnvjpeg with a CUDA toolkit)";
}

cv::Mat nvjpeg_decode(const std::vector<unsigned char>&, int, const cv::Rect&, int, int, const std::string& path) {
  throw BadSample(path, nvjpeg_unavailable_reason());
}

#else

namespace {

// One library handle for the process (nvJPEG allows sharing it between threads).
nvjpegHandle_t shared_handle() {
  static nvjpegHandle_t handle = [] {
    nvjpegHandle_t h = nullptr;
    if (nvjpegCreateSimple(&h) != NVJPEG_STATUS_SUCCESS) h = nullptr;
    return h;
  }();
  return handle;
}

// Per thread: decode state, stream and a device buffer that grows to the largest image seen.
struct ThreadDecoder {
  nvjpegJpegState_t state = nullptr;
  cudaStream_t stream = nullptr;
  unsigned char* buffer = nullptr;
  size_t capacity = 0;
  ThreadDecoder() {
    if (nvjpegJpegStateCreate(shared_handle(), &state) != NVJPEG_STATUS_SUCCESS) state = nullptr;
    if (cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) != cudaSuccess) stream = nullptr;
  }
  ~ThreadDecoder() {
    // At process exit the CUDA runtime may already be gone: failures here are ignored.
    if (buffer) cudaFree(buffer);
    if (stream) cudaStreamDestroy(stream);
    if (state) nvjpegJpegStateDestroy(state);
  }
  ThreadDecoder(const ThreadDecoder&) = delete;
  ThreadDecoder& operator=(const ThreadDecoder&) = delete;
};

}  // namespace

std::string nvjpeg_unavailable_reason() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) return "nvJPEG needs a CUDA device, and none is visible";
  if (!shared_handle()) return "nvJPEG could not be initialised (nvjpegCreateSimple failed)";
  return {};
}

cv::Mat nvjpeg_decode(const std::vector<unsigned char>& bytes, int channels, const cv::Rect& region, int width,
                      int height, const std::string& path) {
  thread_local ThreadDecoder d;
  if (!shared_handle() || !d.state || !d.stream) throw BadSample(path, "nvJPEG is not usable on this thread");
  const size_t pixel = channels == 1 ? 1 : 3;
  const size_t needed = static_cast<size_t>(width) * static_cast<size_t>(height) * pixel;
  if (needed > d.capacity) {
    if (d.buffer) cudaFree(d.buffer);
    d.buffer = nullptr;
    d.capacity = 0;
    if (cudaMalloc(reinterpret_cast<void**>(&d.buffer), needed) != cudaSuccess)
      throw BadSample(path, "nvJPEG: cannot allocate " + std::to_string(needed) + " bytes on the GPU");
    d.capacity = needed;
  }
  nvjpegImage_t out{};
  out.channel[0] = d.buffer;
  out.pitch[0] = static_cast<unsigned int>(static_cast<size_t>(width) * pixel);
  const nvjpegStatus_t status = nvjpegDecode(shared_handle(), d.state, bytes.data(), bytes.size(),
                                             channels == 1 ? NVJPEG_OUTPUT_Y : NVJPEG_OUTPUT_RGBI, &out, d.stream);
  if (status != NVJPEG_STATUS_SUCCESS)
    throw BadSample(path, "nvJPEG could not decode it (status " + std::to_string(static_cast<int>(status)) + ")");
  cv::Mat pixels(region.height, region.width, CV_8UC(channels));
  const size_t row = static_cast<size_t>(width) * pixel;
  const unsigned char* first = d.buffer + static_cast<size_t>(region.y) * row + static_cast<size_t>(region.x) * pixel;
  if (cudaMemcpy2DAsync(pixels.data, pixels.step[0], first, row, static_cast<size_t>(region.width) * pixel,
                        static_cast<size_t>(region.height), cudaMemcpyDeviceToHost, d.stream) != cudaSuccess ||
      cudaStreamSynchronize(d.stream) != cudaSuccess)
    throw BadSample(path, "nvJPEG: copying the decoded region back failed");
  return pixels;
}

#endif

}  // namespace xp::classification
