#include "nvjpeg_batch_stage.h"

#include "nvjpeg_decoder.h"

#ifdef XP_HAVE_NVJPEG
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <mutex>

#include <cuda_runtime_api.h>
#include <nvjpeg.h>
#include <torch/torch.h>

#include "jpeg_image.h"
#endif

namespace xp::classification {

#ifndef XP_HAVE_NVJPEG

std::shared_ptr<BatchDecodeStage> make_nvjpeg_batch_stage(double, std::string& why) {
  why = nvjpeg_unavailable_reason();
  return nullptr;
}

#else

namespace {

std::string status_text(nvjpegStatus_t s) { return "nvJPEG status " + std::to_string(static_cast<int>(s)); }

class NvjpegBatchStage : public BatchDecodeStage {
 public:
  explicit NvjpegBatchStage(double share) : BatchDecodeStage(share) {}
  ~NvjpegBatchStage() override {
    // At process exit the CUDA runtime may already be gone: failures here are ignored.
    if (parse_) nvjpegJpegStreamDestroy(parse_);
    if (batched_state_) nvjpegJpegStateDestroy(batched_state_);
    if (single_state_) nvjpegJpegStateDestroy(single_state_);
    if (batched_) nvjpegDestroy(batched_);
    if (single_) nvjpegDestroy(single_);
    for (Buffer& b : buffers_) {
      if (b.consumed) cudaEventDestroy(b.consumed);
      if (b.data) cudaFree(b.data);
    }
    if (stream_) cudaStreamDestroy(stream_);
  }

  // Empty on success, else why the stage cannot run here.
  std::string init() {
    if (cudaGetDevice(&device_index_) != cudaSuccess) return "no CUDA device";
    // The hardware JPEG decoder where the GPU has one and the driver lets us use it; else the
    // GPU backend with Huffman decoding on the GPU (no CPU thread spent on it); else the default.
    nvjpegStatus_t s = nvjpegCreateEx(NVJPEG_BACKEND_HARDWARE, nullptr, nullptr, NVJPEG_FLAGS_DEFAULT, &batched_);
    hardware_ = s == NVJPEG_STATUS_SUCCESS;
    backend_ = "hardware";
    if (!hardware_) {
      backend_ = "GPU Huffman (hardware backend refused: " + status_text(s) + ")";
      batched_ = nullptr;
      s = nvjpegCreateEx(NVJPEG_BACKEND_GPU_HYBRID, nullptr, nullptr, NVJPEG_FLAGS_DEFAULT, &batched_);
      if (s != NVJPEG_STATUS_SUCCESS) {
        backend_ = "default (hardware and GPU Huffman backends refused)";
        batched_ = nullptr;
        s = nvjpegCreateEx(NVJPEG_BACKEND_DEFAULT, nullptr, nullptr, NVJPEG_FLAGS_DEFAULT, &batched_);
      }
      if (s != NVJPEG_STATUS_SUCCESS) return "nvjpegCreateEx failed (" + status_text(s) + ")";
    }
    if ((s = nvjpegCreateSimple(&single_)) != NVJPEG_STATUS_SUCCESS) return "nvjpegCreateSimple failed (" + status_text(s) + ")";
    if (nvjpegJpegStateCreate(batched_, &batched_state_) != NVJPEG_STATUS_SUCCESS ||
        nvjpegJpegStateCreate(single_, &single_state_) != NVJPEG_STATUS_SUCCESS ||
        nvjpegJpegStreamCreate(batched_, &parse_) != NVJPEG_STATUS_SUCCESS)
      return "cannot create nvJPEG decode states";
    if (cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking) != cudaSuccess) return "cannot create a CUDA stream";
    for (Buffer& b : buffers_)
      if (cudaEventCreateWithFlags(&b.consumed, cudaEventDisableTiming) != cudaSuccess) return "cannot create a CUDA event";
    return {};
  }

  bool hardware() const { return hardware_; }

  std::string describe() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    char line[512];
    const double b = batches_ ? 1e3 / static_cast<double>(batches_) : 0.0;
    std::snprintf(line, sizeof line,
                  "nvJPEG %s: %ld images batched, %ld one by one (%ld batched calls failed); per batch of the "
                  "stage: %.2f ms headers, %.2f ms decode calls, %.2f ms waiting for the GPU, %.2f ms crop ops",
                  backend_.c_str(), static_cast<long>(hardware_images_), static_cast<long>(single_images_),
                  static_cast<long>(batched_failures_), b * t_parse_, b * t_decode_, b * t_wait_, b * t_ops_);
    return line;
  }
  torch::Device device() const override { return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(device_index_)); }

  Result run(const std::vector<Item>& items) override {
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t n = static_cast<int64_t>(items.size());
    Result result;
    if (n == 0) return result;
    // Sizes: every item must come out H x W x 3.
    auto size_of = [](const Item& it) {
      return it.planned ? cv::Size(it.planned->width(), it.planned->height())
                        : cv::Size(static_cast<int>(it.decoded.size(1)), static_cast<int>(it.decoded.size(0)));
    };
    const cv::Size out_size = size_of(items[0]);
    std::vector<int64_t> staged, cpu;
    for (int64_t i = 0; i < n; ++i) {
      const Item& it = items[static_cast<size_t>(i)];
      const cv::Size s = size_of(it);
      const int64_t c = it.planned ? it.planned->channels() : it.decoded.size(2);
      if (s != out_size || c != 3)
        throw std::runtime_error("samples in one batch differ in size: " + items[0].source + " is " +
                                 std::to_string(out_size.height) + "x" + std::to_string(out_size.width) + "x3, " +
                                 it.source + " is " + std::to_string(s.height) + "x" + std::to_string(s.width) + "x" +
                                 std::to_string(c) + "; add a resize or crop augmentation");
      (it.planned ? staged : cpu).push_back(i);
    }

    // Streams: nvJPEG decodes on this stage's own stream into one of two padded buffers that the
    // stage owns (cudaMalloc, outside LibTorch's caching allocator); the LibTorch ops that crop
    // them run on the default stream, the trainer's, which orders them before the training step
    // that reads the batch: no host wait for them. A buffer is decoded into again only once the
    // default stream has passed the ops that read it two batches earlier (its `consumed` event).
    std::lock_guard<std::mutex> lock(mutex_);
    const auto u8 = torch::TensorOptions(torch::kUInt8).device(device());
    // Indices go up from page-locked memory: a copy from pageable memory would wait for the default
    // stream, i.e. for the training step queued on it.
    auto on_device = [&](const std::vector<int64_t>& v) {
      torch::Tensor t = torch::empty({static_cast<int64_t>(v.size())}, torch::TensorOptions(torch::kInt64).pinned_memory(true));
      std::memcpy(t.data_ptr<int64_t>(), v.data(), v.size() * sizeof(int64_t));
      return t.to(device(), /*non_blocking=*/true);
    };
    torch::Tensor out = torch::empty({n, out_size.height, out_size.width, 3}, u8);
    std::vector<bool> bad(static_cast<size_t>(n), false);

    if (!staged.empty()) {
      const auto g = static_cast<int64_t>(staged.size());
      int hp = 1, wp = 1;
      std::vector<const JpegImage*> jpegs;
      for (int64_t i : staged) {
        const auto* jpeg = dynamic_cast<const JpegImage*>(&items[static_cast<size_t>(i)].planned->source());
        if (!jpeg) throw std::logic_error("nvjpeg_batched: a planned crop of something other than a JPEG file");
        jpegs.push_back(jpeg);
        hp = std::max(hp, jpeg->height());
        wp = std::max(wp, jpeg->width());
      }
      Buffer& buffer = buffers_[next_buffer_];
      next_buffer_ = 1 - next_buffer_;
      const size_t needed = static_cast<size_t>(g) * static_cast<size_t>(hp) * static_cast<size_t>(wp) * 3;
      if (needed > buffer.capacity) {
        if (buffer.data) cudaFree(buffer.data);  // synchronizes the device: only while buffers grow
        buffer.data = nullptr;
        buffer.capacity = 0;
        if (cudaMalloc(reinterpret_cast<void**>(&buffer.data), needed) != cudaSuccess)
          throw std::runtime_error("nvjpeg_batched: cannot allocate " + std::to_string(needed) + " bytes on the GPU");
        buffer.capacity = needed;
      } else {
        cudaStreamWaitEvent(stream_, buffer.consumed, 0);
      }
      decode_into(buffer.data, hp, wp, jpegs, staged, bad, result);
      const auto t_sync = std::chrono::steady_clock::now();
      if (cudaStreamSynchronize(stream_) != cudaSuccess)
        throw std::runtime_error("nvjpeg_batched: GPU decoding failed (" +
                                 std::string(cudaGetErrorString(cudaGetLastError())) + ")");
      const auto t_ops = std::chrono::steady_clock::now();
      t_wait_ += std::chrono::duration<double>(t_ops - t_sync).count();
      torch::Tensor padded = torch::from_blob(buffer.data, {g, hp, wp, 3}, u8);
      // Source coordinates per output pixel, as cv::resize INTER_LINEAR computes them: centre-aligned,
      // clamped to the crop (its border replicates), then normalised for grid_sample.
      torch::Tensor xs = torch::empty({g, out_size.width}, torch::TensorOptions(torch::kFloat32).pinned_memory(true));
      torch::Tensor ys = torch::empty({g, out_size.height}, torch::TensorOptions(torch::kFloat32).pinned_memory(true));
      auto* xa = xs.data_ptr<float>();
      auto* ya = ys.data_ptr<float>();
      for (int64_t k = 0; k < g; ++k) {
        const CropPlan& p = items[static_cast<size_t>(staged[static_cast<size_t>(k)])].planned->plan();
        const double sx = static_cast<double>(p.region.width) / out_size.width;
        const double sy = static_cast<double>(p.region.height) / out_size.height;
        for (int x = 0; x < out_size.width; ++x) {
          const double f = std::clamp((x + 0.5) * sx - 0.5, 0.0, static_cast<double>(p.region.width - 1)) + p.region.x;
          xa[k * out_size.width + (p.hflip ? out_size.width - 1 - x : x)] = static_cast<float>((2.0 * f + 1.0) / wp - 1.0);
        }
        for (int y = 0; y < out_size.height; ++y) {
          const double f = std::clamp((y + 0.5) * sy - 0.5, 0.0, static_cast<double>(p.region.height - 1)) + p.region.y;
          ya[k * out_size.height + y] = static_cast<float>((2.0 * f + 1.0) / hp - 1.0);
        }
      }
      const auto f32 = torch::TensorOptions(torch::kFloat32).device(device());
      xs = xs.to(f32, /*non_blocking=*/true);
      ys = ys.to(f32, /*non_blocking=*/true);
      torch::Tensor grid = torch::stack({xs.unsqueeze(1).expand({g, out_size.height, out_size.width}),
                                         ys.unsqueeze(2).expand({g, out_size.height, out_size.width})},
                                        3);
      torch::Tensor input = padded.permute({0, 3, 1, 2}).to(torch::kFloat32);
      // bilinear (0), border padding (1), align_corners false: the centre-aligned mapping above.
      torch::Tensor cropped = torch::grid_sampler(input, grid, 0, 1, false);
      cropped = cropped.round_().clamp_(0, 255).to(torch::kUInt8).permute({0, 2, 3, 1});
      out.index_copy_(0, on_device(staged), cropped);
      cudaEventRecord(buffer.consumed, nullptr);  // the default stream is done with the buffer here
      t_ops_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t_ops).count();
      ++batches_;
    }
    if (!cpu.empty()) {
      const size_t bytes = static_cast<size_t>(out_size.height) * out_size.width * 3;
      torch::Tensor host = torch::empty({static_cast<int64_t>(cpu.size()), out_size.height, out_size.width, 3},
                                        torch::TensorOptions(torch::kUInt8).pinned_memory(true));
      for (size_t k = 0; k < cpu.size(); ++k) {
        torch::Tensor t = items[static_cast<size_t>(cpu[k])].decoded.contiguous();
        std::memcpy(host.data_ptr<uint8_t>() + k * bytes, t.data_ptr<uint8_t>(), bytes);
      }
      out.index_copy_(0, on_device(cpu), host.to(device(), /*non_blocking=*/true));
    }
    if (!result.failed.empty()) {
      std::vector<int64_t> keep;
      for (int64_t i = 0; i < n; ++i)
        if (!bad[static_cast<size_t>(i)]) keep.push_back(i);
      out = out.index_select(0, on_device(keep));
    }
    result.images = out;
    split().record_stage(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                         static_cast<int64_t>(staged.size()));
    return result;
  }

 private:
  // Decodes jpegs[k] whole into padded[k] (top-left); files nothing decodes are marked bad.
  void decode_into(unsigned char* padded, int hp, int wp, const std::vector<const JpegImage*>& jpegs,
                   const std::vector<int64_t>& staged, std::vector<bool>& bad, Result& result) {
    const size_t g = jpegs.size();
    const size_t row = static_cast<size_t>(wp) * 3, plane = static_cast<size_t>(hp) * row;
    auto destination = [&](size_t k) {
      nvjpegImage_t d{};
      d.channel[0] = padded + k * plane;
      d.pitch[0] = static_cast<unsigned int>(row);
      return d;
    };
    std::vector<const unsigned char*> data;
    std::vector<size_t> lengths;
    std::vector<nvjpegImage_t> out;
    std::vector<size_t> batched, single;
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t k = 0; k < g; ++k) {
      const auto& bytes = jpegs[k]->bytes();
      int unsupported = 1;
      if (hardware_ && nvjpegJpegStreamParseHeader(batched_, bytes.data(), bytes.size(), parse_) == NVJPEG_STATUS_SUCCESS &&
          nvjpegDecodeBatchedSupported(batched_, parse_, &unsupported) == NVJPEG_STATUS_SUCCESS && unsupported == 0) {
        batched.push_back(k);
      } else if (!hardware_) {
        batched.push_back(k);
      } else {
        single.push_back(k);
      }
    }
    const auto t1 = std::chrono::steady_clock::now();
    t_parse_ += std::chrono::duration<double>(t1 - t0).count();
    for (size_t k : batched) {
      data.push_back(jpegs[k]->bytes().data());
      lengths.push_back(jpegs[k]->bytes().size());
      out.push_back(destination(k));
    }
    if (!batched.empty()) {
      nvjpegStatus_t s = NVJPEG_STATUS_SUCCESS;
      if (static_cast<int>(batched.size()) != initialized_batch_) {
        s = nvjpegDecodeBatchedInitialize(batched_, batched_state_, static_cast<int>(batched.size()), 1, NVJPEG_OUTPUT_RGBI);
        initialized_batch_ = s == NVJPEG_STATUS_SUCCESS ? static_cast<int>(batched.size()) : 0;
      }
      if (s == NVJPEG_STATUS_SUCCESS)
        s = nvjpegDecodeBatched(batched_, batched_state_, data.data(), lengths.data(), out.data(), stream_);
      if (s != NVJPEG_STATUS_SUCCESS) {
        // One bad file fails the whole batched call: decode them one by one to find it.
        single.insert(single.end(), batched.begin(), batched.end());
        ++batched_failures_;
      } else {
        hardware_images_ += static_cast<int64_t>(batched.size());
      }
    }
    for (size_t k : single) {
      const auto& bytes = jpegs[k]->bytes();
      nvjpegImage_t d = destination(k);
      const nvjpegStatus_t s = nvjpegDecode(single_, single_state_, bytes.data(), bytes.size(), NVJPEG_OUTPUT_RGBI, &d, stream_);
      if (s != NVJPEG_STATUS_SUCCESS) {
        const auto i = static_cast<size_t>(staged[k]);
        bad[i] = true;
        result.failed.emplace_back(i, "nvJPEG could not decode it (" + status_text(s) + ")");
      }
    }
    single_images_ += static_cast<int64_t>(single.size());
    t_decode_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  }

  int device_index_ = 0;
  bool hardware_ = false;
  nvjpegHandle_t batched_ = nullptr, single_ = nullptr;
  nvjpegJpegState_t batched_state_ = nullptr, single_state_ = nullptr;
  nvjpegJpegStream_t parse_ = nullptr;
  cudaStream_t stream_ = nullptr;
  struct Buffer {
    unsigned char* data = nullptr;
    size_t capacity = 0;
    cudaEvent_t consumed = nullptr;
  };
  Buffer buffers_[2];
  int next_buffer_ = 0;
  mutable std::mutex mutex_;
  int initialized_batch_ = 0;
  std::string backend_;
  int64_t hardware_images_ = 0, single_images_ = 0, batched_failures_ = 0, batches_ = 0;
  double t_parse_ = 0, t_decode_ = 0, t_wait_ = 0, t_ops_ = 0;  // seconds, summed over batches
};

}  // namespace

std::shared_ptr<BatchDecodeStage> make_nvjpeg_batch_stage(double share, std::string& why) {
  why = nvjpeg_unavailable_reason();
  if (!why.empty()) return nullptr;
  auto stage = std::make_shared<NvjpegBatchStage>(share);
  why = stage->init();
  if (!why.empty()) return nullptr;
  return stage;
}

#endif

}  // namespace xp::classification
