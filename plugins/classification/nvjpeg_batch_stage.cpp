#include "nvjpeg_batch_stage.h"

#include "nvjpeg_decoder.h"

#if defined(XP_HAVE_NVJPEG) && defined(XP_HAVE_GPU_CROP)
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#include <nvjpeg.h>
#include <torch/torch.h>

#include "gpu_crop.h"
#include "jpeg_image.h"
#endif

namespace xp::classification {

#if !defined(XP_HAVE_NVJPEG)

std::shared_ptr<BatchDecodeStage> make_nvjpeg_batch_stage(double, std::string& why) {
  why = nvjpeg_unavailable_reason();
  return nullptr;
}

#elif !defined(XP_HAVE_GPU_CROP)

std::shared_ptr<BatchDecodeStage> make_nvjpeg_batch_stage(double, std::string& why) {
  why = "this build of xp has nvJPEG but no GPU crop kernel (CMake found no CUDA compiler, nvcc)";
  return nullptr;
}

#else

namespace {

std::string status_text(nvjpegStatus_t s) { return "nvJPEG status " + std::to_string(static_cast<int>(s)); }

// Memory the stage keeps from batch to batch, grown (never shrunk) to the largest batch so far:
// a batch then allocates nothing, and nothing it does waits for the GPU except its one
// cudaStreamSynchronize. Device buffers are cudaMalloc'd, host ones page-locked (cudaHostAlloc),
// so that copies from them are asynchronous.
struct StageBuffer {
  bool host = false;
  unsigned char* data = nullptr;
  size_t capacity = 0;

  ~StageBuffer() { release(); }
  void release() {
    // At process exit the CUDA runtime may already be gone: failures here are ignored.
    if (data) host ? cudaFreeHost(data) : cudaFree(data);
    data = nullptr;
    capacity = 0;
  }
  // At least `bytes`, with a quarter to spare so that batches a little larger do not grow it again
  // (freeing device memory synchronizes the device).
  unsigned char* reserve(size_t bytes, const char* what) {
    if (bytes <= capacity) return data;
    release();
    const size_t want = bytes + bytes / 4;
    const cudaError_t e = host ? cudaHostAlloc(reinterpret_cast<void**>(&data), want, cudaHostAllocDefault)
                               : cudaMalloc(reinterpret_cast<void**>(&data), want);
    if (e != cudaSuccess) {
      data = nullptr;
      throw std::runtime_error(std::string("nvjpeg_batched: cannot allocate ") + std::to_string(want) + " bytes of " +
                               what + " (" + cudaGetErrorString(e) + ")");
    }
    capacity = want;
    return data;
  }
};

class NvjpegBatchStage : public BatchDecodeStage {
 public:
  explicit NvjpegBatchStage(double share) : BatchDecodeStage(share) {
    staging_host_.host = true;
    crops_host_.host = true;
  }
  ~NvjpegBatchStage() override {
    for (nvjpegJpegStream_t p : worker_parsers_) nvjpegJpegStreamDestroy(p);
    if (parse_) nvjpegJpegStreamDestroy(parse_);
    if (batched_state_) nvjpegJpegStateDestroy(batched_state_);
    if (single_state_) nvjpegJpegStateDestroy(single_state_);
    if (batched_) nvjpegDestroy(batched_);
    if (single_) nvjpegDestroy(single_);
    for (StageBuffer* b : {&padded_, &staging_, &staging_host_, &crops_, &crops_host_}) b->release();
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
    // The stage's stream has the device's highest priority: its kernels (nvJPEG's colour conversion,
    // the crop) are short, and the batch they make is what the trainer waits for next, so they go
    // between the training step's kernels instead of behind them. XP_STAGE_STREAM_PRIORITY=default
    // keeps the ordinary priority (to measure the difference: docs/performance.md).
    int least = 0, greatest = 0;
    const char* priority = std::getenv("XP_STAGE_STREAM_PRIORITY");
    if (!(priority && std::string(priority) == "default")) cudaDeviceGetStreamPriorityRange(&least, &greatest);
    if (cudaStreamCreateWithPriority(&stream_, cudaStreamNonBlocking, greatest) != cudaSuccess)
      return "cannot create a CUDA stream";
    return {};
  }

  std::string describe() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    char line[800];
    const double b = batches_ ? 1e3 / static_cast<double>(batches_) : 0.0;
    std::snprintf(line, sizeof line,
                  "nvJPEG %s: %ld images batched, %ld one by one (%ld batched calls failed); per batch of the "
                  "stage (%ld): %.2f ms headers, %.2f ms decoder setup, %.2f ms decode calls, %.2f ms staging the "
                  "workers' images (%ld uploaded from where the workers wrote them, %ld gathered first), %.2f ms launching "
                  "the crop, %.2f ms waiting for the GPU",
                  backend_.c_str(), static_cast<long>(hardware_images_), static_cast<long>(single_images_),
                  static_cast<long>(batched_failures_), static_cast<long>(batches_), b * t_parse_, b * t_setup_,
                  b * t_decode_, b * t_staging_, static_cast<long>(pinned_images_), static_cast<long>(gathered_images_),
                  b * t_launch_, b * t_wait_);
    return line;
  }
  // On a worker's thread: whether the hardware decoder takes this file in a batch (1) or it needs
  // the one-by-one decoder (0). Parsing the header scans the whole file (about 8-13 us an image on
  // the H200 machine), which is better spread over the workers than done for the whole batch on
  // the collating thread. nvJPEG's handle may be shared between threads, its parsed streams not:
  // each call borrows one from a pool.
  int examine(const PlannedCrop& planned) const override {
    if (!hardware_) return -1;
    const auto* jpeg = dynamic_cast<const JpegImage*>(&planned.source());
    if (!jpeg) return -1;
    nvjpegJpegStream_t parser = nullptr;
    {
      std::lock_guard<std::mutex> lock(parsers_mutex_);
      if (!free_parsers_.empty()) {
        parser = free_parsers_.back();
        free_parsers_.pop_back();
      }
    }
    if (!parser) {
      if (nvjpegJpegStreamCreate(batched_, &parser) != NVJPEG_STATUS_SUCCESS) return -1;
      std::lock_guard<std::mutex> lock(parsers_mutex_);
      worker_parsers_.push_back(parser);
    }
    const int batched = takes_batched(*jpeg, parser) ? 1 : 0;
    std::lock_guard<std::mutex> lock(parsers_mutex_);
    free_parsers_.push_back(parser);
    return batched;
  }

  torch::Device device() const override { return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(device_index_)); }

  // All of a batch's GPU work goes on the stage's own stream, in order: nvJPEG's decode into the
  // padded buffer, the upload of the workers' images and of the crop table, one crop kernel for the
  // whole batch; then one host wait for that stream. Nothing is queued on the trainer's stream, so
  // a batch never waits behind training steps, and the buffers are free again when run() returns.
  Result run(const std::vector<Item>& items) override {
    using clock = std::chrono::steady_clock;
    auto seconds = [](clock::time_point a, clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
    const auto t0 = clock::now();
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

    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<bool> bad(static_cast<size_t>(n), false);
    std::vector<GpuCrop> crop(static_cast<size_t>(n));  // per item; bad ones are left out below

    if (!staged.empty()) {
      int hp = 1, wp = 1;
      std::vector<const JpegImage*> jpegs;
      std::vector<int> examined;
      for (int64_t i : staged) {
        const auto* jpeg = dynamic_cast<const JpegImage*>(&items[static_cast<size_t>(i)].planned->source());
        if (!jpeg) throw std::logic_error("nvjpeg_batched: a planned crop of something other than a JPEG file");
        jpegs.push_back(jpeg);
        examined.push_back(items[static_cast<size_t>(i)].examined);
        hp = std::max(hp, jpeg->height());
        wp = std::max(wp, jpeg->width());
      }
      // Room for the whole batch, so that a larger share later does not grow it.
      const size_t plane = static_cast<size_t>(hp) * static_cast<size_t>(wp) * 3;
      unsigned char* padded = padded_.reserve(static_cast<size_t>(n) * plane, "GPU memory");
      decode_into(padded, hp, wp, jpegs, examined, staged, bad, result);
      for (size_t k = 0; k < staged.size(); ++k) {
        const CropPlan& p = items[static_cast<size_t>(staged[k])].planned->plan();
        crop[static_cast<size_t>(staged[k])] = GpuCrop{padded + k * plane, wp * 3, p.region.x, p.region.y,
                                                       p.region.width, p.region.height, p.hflip ? 1 : 0};
      }
    }
    if (!cpu.empty()) {
      // The workers' images go to the device beside the decoded ones; as a region of the output's own
      // size, the kernel copies them unchanged. The loader has the workers write them into page-locked
      // memory (train.pin_memory), so each goes up by its own asynchronous copy from there; others are
      // gathered into the stage's page-locked buffer first and go up in one copy.
      const auto t = clock::now();
      const size_t bytes = static_cast<size_t>(out_size.height) * static_cast<size_t>(out_size.width) * 3;
      unsigned char* device = staging_.reserve(cpu.size() * bytes, "GPU memory");
      unsigned char* host = nullptr;
      size_t gathered = 0;
      for (size_t k = 0; k < cpu.size(); ++k) {
        const torch::Tensor& d = items[static_cast<size_t>(cpu[k])].decoded;
        if (d.is_pinned() && d.is_contiguous()) {
          check(cudaMemcpyAsync(device + k * bytes, d.data_ptr<uint8_t>(), bytes, cudaMemcpyHostToDevice, stream_),
                "uploading images");
          ++pinned_images_;
        } else {
          if (!host) host = staging_host_.reserve(cpu.size() * bytes, "page-locked memory");
          std::memcpy(host + k * bytes, d.contiguous().data_ptr<uint8_t>(), bytes);
          check(cudaMemcpyAsync(device + k * bytes, host + k * bytes, bytes, cudaMemcpyHostToDevice, stream_),
                "uploading images");
          ++gathered;
        }
        crop[static_cast<size_t>(cpu[k])] =
            GpuCrop{device + k * bytes, out_size.width * 3, 0, 0, out_size.width, out_size.height, 0};
      }
      gathered_images_ += static_cast<int64_t>(gathered);
      t_staging_ += seconds(t, clock::now());
    }

    const auto t_launch = clock::now();
    std::vector<GpuCrop> kept;
    kept.reserve(crop.size());
    for (int64_t i = 0; i < n; ++i)
      if (!bad[static_cast<size_t>(i)]) kept.push_back(crop[static_cast<size_t>(i)]);
    const auto m = static_cast<int64_t>(kept.size());
    // The batch tensor comes from LibTorch's allocator for the stage's stream; recordStream below
    // keeps its memory from being reused before the trainer's stream is done with it.
    const c10::cuda::CUDAStream stream = c10::cuda::getStreamFromExternal(stream_, static_cast<c10::DeviceIndex>(device_index_));
    c10::cuda::CUDAStreamGuard guard(stream);
    torch::Tensor out = torch::empty({m, out_size.height, out_size.width, 3}, torch::TensorOptions(torch::kUInt8).device(device()));
    if (m > 0) {
      const size_t table = kept.size() * sizeof(GpuCrop);
      auto* table_host = reinterpret_cast<GpuCrop*>(crops_host_.reserve(table, "page-locked memory"));
      std::memcpy(table_host, kept.data(), table);
      auto* table_device = reinterpret_cast<GpuCrop*>(crops_.reserve(table, "GPU memory"));
      check(cudaMemcpyAsync(table_device, table_host, table, cudaMemcpyHostToDevice, stream_), "uploading the crop table");
      check(launch_batched_crop(table_device, static_cast<int>(m), out.data_ptr<uint8_t>(), out_size.height,
                                out_size.width, stream_),
            "launching the crop kernel");
    }
    const auto t_wait = clock::now();
    check(cudaStreamSynchronize(stream_), "decoding and cropping on the GPU");
    c10::cuda::CUDACachingAllocator::recordStream(out.storage().data_ptr(),
                                                  c10::cuda::getDefaultCUDAStream(static_cast<c10::DeviceIndex>(device_index_)));
    const auto t_end = clock::now();
    t_launch_ += seconds(t_launch, t_wait);
    t_wait_ += seconds(t_wait, t_end);
    ++batches_;
    result.images = out;
    split().record_stage(seconds(t0, t_end), static_cast<int64_t>(staged.size()));
    return result;
  }

 private:
  static void check(cudaError_t e, const char* what) {
    if (e != cudaSuccess) throw std::runtime_error(std::string("nvjpeg_batched: ") + what + " failed (" + cudaGetErrorString(e) + ")");
  }

  // Whether the hardware backend decodes this file in a batch (parsed with `parser`).
  bool takes_batched(const JpegImage& jpeg, nvjpegJpegStream_t parser) const {
    const auto& bytes = jpeg.bytes();
    int unsupported = 1;
    return nvjpegJpegStreamParseHeader(batched_, bytes.data(), bytes.size(), parser) == NVJPEG_STATUS_SUCCESS &&
           nvjpegDecodeBatchedSupported(batched_, parser, &unsupported) == NVJPEG_STATUS_SUCCESS && unsupported == 0;
  }

  // Decodes jpegs[k] whole into padded[k] (top-left); files nothing decodes are marked bad.
  // examined[k]: examine()'s answer for jpegs[k] (-1: not asked).
  void decode_into(unsigned char* padded, int hp, int wp, const std::vector<const JpegImage*>& jpegs,
                   const std::vector<int>& examined, const std::vector<int64_t>& staged, std::vector<bool>& bad,
                   Result& result) {
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
      // The workers have examined most files already (examine()); the rest are parsed here.
      const int seen = examined[k];
      if (!hardware_ || seen == 1 || (seen < 0 && takes_batched(*jpegs[k], parse_)))
        batched.push_back(k);
      else
        single.push_back(k);
    }
    const auto t1 = std::chrono::steady_clock::now();
    t_parse_ += std::chrono::duration<double>(t1 - t0).count();
    for (size_t k : batched) {
      data.push_back(jpegs[k]->bytes().data());
      lengths.push_back(jpegs[k]->bytes().size());
      out.push_back(destination(k));
    }
    auto t2 = t1;
    if (!batched.empty()) {
      nvjpegStatus_t s = NVJPEG_STATUS_SUCCESS;
      // The batch size is part of the decode state's setup, which the tuned split changes often.
      if (static_cast<int>(batched.size()) != initialized_batch_) {
        s = nvjpegDecodeBatchedInitialize(batched_, batched_state_, static_cast<int>(batched.size()), 1, NVJPEG_OUTPUT_RGBI);
        initialized_batch_ = s == NVJPEG_STATUS_SUCCESS ? static_cast<int>(batched.size()) : 0;
      }
      t2 = std::chrono::steady_clock::now();
      t_setup_ += std::chrono::duration<double>(t2 - t1).count();
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
    t_decode_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t2).count();
  }

  int device_index_ = 0;
  bool hardware_ = false;
  nvjpegHandle_t batched_ = nullptr, single_ = nullptr;
  nvjpegJpegState_t batched_state_ = nullptr, single_state_ = nullptr;
  nvjpegJpegStream_t parse_ = nullptr;
  cudaStream_t stream_ = nullptr;
  StageBuffer padded_, staging_, staging_host_, crops_, crops_host_;
  mutable std::mutex mutex_;
  // examine()'s parsed streams: all it made (destroyed with the stage), and those not in use.
  mutable std::mutex parsers_mutex_;
  mutable std::vector<nvjpegJpegStream_t> worker_parsers_, free_parsers_;
  int64_t pinned_images_ = 0, gathered_images_ = 0;  // workers' images uploaded from their own / the stage's page-locked memory
  int initialized_batch_ = 0;
  std::string backend_;
  int64_t hardware_images_ = 0, single_images_ = 0, batched_failures_ = 0, batches_ = 0;
  // Seconds of the collating thread, summed over batches.
  double t_parse_ = 0, t_setup_ = 0, t_decode_ = 0, t_staging_ = 0, t_launch_ = 0, t_wait_ = 0;
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
