#include "inference/sliding_window.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include <c10/core/Event.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <opencv2/core.hpp>
#include <torch/torch.h>

#include "engine/mixed_precision.h"
#include "xp/base/suggest.h"
#include "xp/errors.h"

namespace xp::inference {

const std::vector<std::string>& segmentation_tta_modes() {
  static const std::vector<std::string> modes = {"none", "hflip", "flips", "d4"};
  return modes;
}

std::vector<int64_t> window_origins(int64_t length, int64_t window, double overlap) {
  if (length <= window) return {0};
  const int64_t stride = std::max<int64_t>(1, static_cast<int64_t>(std::floor(window * (1.0 - overlap))));
  std::vector<int64_t> out;
  for (int64_t at = 0; at + window < length; at += stride) out.push_back(at);
  out.push_back(length - window);
  return out;
}

torch::Tensor blend_weights(int64_t h, int64_t w, const std::string& blend) {
  if (blend == "uniform") return torch::ones({h, w});
  if (blend != "hann")
    throw ConfigError("blend '" + blend + "' is not a blending window (use hann or uniform)" +
                      did_you_mean(blend, {"hann", "uniform"}));
  // Raised cosine sampled at pixel centres: highest in the middle, small but never 0 at the edge
  // (a scene border covered by one window keeps its prediction).
  auto ramp = [](int64_t n) {
    torch::Tensor i = torch::arange(n, torch::kDouble) + 0.5;
    return (0.5 - 0.5 * torch::cos(2 * M_PI * i / static_cast<double>(n))).to(torch::kFloat);
  };
  return torch::outer(ramp(h), ramp(w));
}

namespace {

// The views of D4 used by a TTA mode: (transpose, flip dims). Each view is undone on the output.
struct View {
  bool transpose;
  std::vector<int64_t> flips;
};

std::vector<View> tta_views(const std::string& mode) {
  if (mode == "none") return {{false, {}}};
  if (mode == "hflip") return {{false, {}}, {false, {3}}};
  if (mode == "flips") return {{false, {}}, {false, {3}}, {false, {2}}, {false, {2, 3}}};
  if (mode == "d4")
    return {{false, {}}, {false, {3}}, {false, {2}}, {false, {2, 3}},
            {true, {}},  {true, {3}},  {true, {2}},  {true, {2, 3}}};
  throw ConfigError("segmentation TTA '" + mode + "' is not a mode (use none, hflip, flips or d4)" +
                    did_you_mean(mode, segmentation_tta_modes()));
}

torch::Tensor probabilities(const torch::Tensor& logits, double temperature) {
  torch::Tensor z = logits.to(torch::kFloat) / temperature;
  return z.size(1) == 1 ? torch::sigmoid(z) : torch::softmax(z, 1);
}

}  // namespace

namespace {

// Runs f, adding its wall time to *seconds where given.
template <typename F>
void timed(double* seconds, F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  if (seconds) *seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Rows handed to the sink on one thread, in order; push() waits while `depth` bands are queued.
// An exception in the sink stops the queue and is rethrown by the next push() or by finish().
// Rows on a GPU are copied back by push() (non-blocking, into page-locked memory) and the sink's
// thread waits for that copy's event only: a blocking copy made on the sink's thread would wait for
// every forward pass queued on the stream before it, tying the sink to the device's backlog.
class RowQueue {
 public:
  RowQueue(const RowSink& sink, size_t depth, double* waited) : sink_(sink), depth_(depth), waited_(waited) {
    thread_ = std::thread([this] { run(); });
  }
  ~RowQueue() {
    stop();
    if (thread_.joinable()) thread_.join();
  }
  void push(int64_t y0, torch::Tensor rows) {
    std::unique_lock<std::mutex> lock(mutex_);
    timed(waited_, [&] { room_.wait(lock, [&] { return bands_.size() < depth_ || error_; }); });
    if (error_) std::rethrow_exception(error_);
    lock.unlock();  // the copy is queued without holding the sink's thread up
    Band band{y0, std::move(rows), std::nullopt};
    if (!band.rows.device().is_cpu()) {
      const torch::Device device = band.rows.device();
      torch::Tensor host = torch::empty(band.rows.sizes(), torch::TensorOptions(band.rows.dtype()).pinned_memory(true));
      host.copy_(band.rows, /*non_blocking=*/true);
      band.copied.emplace(device.type());
      band.copied->record(c10::impl::getDeviceGuardImpl(device.type())->getStream(device));
      band.rows = std::move(host);
    }
    lock.lock();
    bands_.push_back(std::move(band));
    ready_.notify_one();
  }
  void finish() {
    stop();
    thread_.join();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void stop() {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
    ready_.notify_one();
  }
  void run() {
    torch::NoGradGuard guard;
    for (;;) {
      Band* band = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [&] { return !bands_.empty() || done_; });
        if (bands_.empty()) return;
        band = &bands_.front();  // deque: stays put while push() appends
      }
      try {
        // c10::Event has no blocking wait in LibTorch 1.13: poll (a band takes milliseconds).
        if (band->copied)
          while (!band->copied->query()) std::this_thread::sleep_for(std::chrono::microseconds(50));
        sink_(band->y0, band->rows.contiguous());
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        error_ = std::current_exception();
        bands_.clear();
        room_.notify_all();
        return;
      }
      std::lock_guard<std::mutex> lock(mutex_);
      bands_.pop_front();  // popped only now: a band being sunk still counts against the depth
      room_.notify_all();
    }
  }

  const RowSink& sink_;
  const size_t depth_;
  double* waited_;
  std::mutex mutex_;
  std::condition_variable ready_, room_;
  struct Band {
    int64_t y0;
    torch::Tensor rows;
    std::optional<c10::Event> copied;  // the copy back from the device
  };
  std::deque<Band> bands_;
  bool done_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

void check_options(const SlidingWindowOptions& o) {
  if (o.window_h < 1 || o.window_w < 1) throw ConfigError("the window size must be at least 1 x 1");
  if (!(o.overlap >= 0 && o.overlap <= 0.95)) throw ConfigError("overlap must be in [0, 0.95]");
  if (!(o.temperature > 0)) throw ConfigError("temperature must be > 0");
  if (o.window_h != o.window_w)
    for (const auto& v : tta_views(o.tta))
      if (v.transpose) throw ConfigError("TTA d4 (transposed views) needs a square window");
}

// The windows over a PH x PW scene (at least one window each way); rows [0, H) x [0, W) are sent.
void slide(Model& model, int64_t PH, int64_t PW, int64_t H, int64_t W, const ReadRows& read,
           const PrepareWindow& prepare, const SlidingWindowOptions& o, const RowSink& sink) {
  const auto views = tta_views(o.tta);
  const auto ys = window_origins(PH, o.window_h, o.overlap);
  const auto xs = window_origins(PW, o.window_w, o.overlap);
  const torch::Tensor weight = blend_weights(o.window_h, o.window_w, o.blend);

  cv::Mat strip;
  int64_t strip_y = -1;
  struct Job {
    int64_t y, x;
  };
  std::vector<Job> jobs;
  for (int64_t y : ys)
    for (int64_t x : xs) jobs.push_back({y, x});

  const bool raw_windows = o.device_conversion.has_value();
  const bool on_host = o.device.is_cpu();
  auto prepare_batch = [&](size_t begin) {
    const size_t end = std::min(jobs.size(), begin + static_cast<size_t>(std::max<int64_t>(1, o.batch_size)));
    std::vector<torch::Tensor> inputs;
    torch::Tensor raw;  // [n, window_h, window_w, C] uint8, written window by window
    for (size_t j = begin; j < end; ++j) {
      // Windows come row by row: one strip of the scene per row of windows (batches are prepared
      // one at a time, so only one thread touches the strip).
      if (jobs[j].y != strip_y) {
        strip = cv::Mat();
        strip = read(jobs[j].y, o.window_h);
        strip_y = jobs[j].y;
      }
      cv::Mat window = strip(cv::Rect(static_cast<int>(jobs[j].x), 0, static_cast<int>(o.window_w),
                                      static_cast<int>(o.window_h)));
      if (raw_windows) {
        if (!raw.defined())
          raw = torch::empty({static_cast<int64_t>(end - begin), o.window_h, o.window_w, window.channels()},
                             torch::TensorOptions(torch::kUInt8).pinned_memory(!on_host));
        auto* dst = raw[static_cast<int64_t>(j - begin)].data_ptr<uint8_t>();
        const size_t row_bytes = static_cast<size_t>(o.window_w) * window.elemSize();
        for (int r = 0; r < window.rows; ++r) std::memcpy(dst + static_cast<size_t>(r) * row_bytes, window.ptr(r), row_bytes);
        continue;
      }
      torch::Tensor t = prepare(window);
      if (t.dim() != 3 || t.size(1) != o.window_h || t.size(2) != o.window_w)
        throw ConfigError("the evaluation transforms turn a " + std::to_string(o.window_h) + " x " +
                          std::to_string(o.window_w) + " window into another size; a scene needs size-preserving "
                          "transforms (normalize), or --window equal to what they produce");
      inputs.push_back(t);
    }
    if (raw_windows) return raw;
    torch::Tensor batch = torch::stack(inputs);
    if (o.device.is_cuda()) batch = batch.pin_memory();
    return batch;
  };

  // The accumulator band, on the device: rows [band_y, band_y + window_h) of the (padded) scene.
  const auto on_device = torch::TensorOptions(torch::kFloat).device(o.device);
  torch::NoGradGuard no_grad;
  const torch::Tensor device_weight = weight.to(o.device);
  std::optional<data::PixelConversion> conversion;
  if (raw_windows) conversion = o.device_conversion->to(o.device);
  torch::Tensor acc, wsum = torch::zeros({o.window_h, PW}, on_device);
  int64_t band_y = 0, channels = 0;
  // Off the host, finished rows go to the sink on a thread of their own (in order), through a queue
  // of a few bands: the copy back waits for the device there, and the sink's work (quantizing,
  // masks, objects, PNG compression) overlaps the next windows. The loop waits only when the queue
  // is full: waiting for each band before queueing more forward passes left the device idle while
  // the sink worked (0.92 s for an 8192 x 8192 scene whose passes take 0.35 s). On the CPU the sink
  // runs inline.
  std::optional<RowQueue> queue;
  if (!on_host) queue.emplace(sink, 4, o.times ? &o.times->waiting_for_rows : nullptr);
  auto deliver = [&](int64_t y0, torch::Tensor rows) {
    if (queue) queue->push(y0, std::move(rows));
    else sink(y0, rows.contiguous());
  };
  auto emit = [&](int64_t upto) {  // rows [band_y, upto) are final
    const int64_t k = std::min(upto, PH) - band_y;
    if (k <= 0) return;
    if (band_y < H) {
      const int64_t keep = std::min(k, H - band_y);
      deliver(band_y, acc.narrow(1, 0, keep).narrow(2, 0, W) / wsum.narrow(0, 0, keep).narrow(1, 0, W).unsqueeze(0));
    }
    acc = torch::cat({acc.narrow(1, k, o.window_h - k), torch::zeros({channels, k, PW}, on_device)}, 1);
    wsum = torch::cat({wsum.narrow(0, k, o.window_h - k), torch::zeros({k, PW}, on_device)}, 0);
    band_y += k;
  };

  std::future<torch::Tensor> next = std::async(std::launch::async, prepare_batch, 0);
  for (size_t begin = 0; begin < jobs.size();) {
    torch::Tensor input;
    timed(o.times ? &o.times->waiting_for_windows : nullptr, [&] { input = next.get(); });
    if (o.times) ++o.times->batches;
    input = input.to(o.device, /*non_blocking=*/true);
    const size_t count = static_cast<size_t>(input.size(0));
    const size_t following = begin + count;
    if (following < jobs.size()) next = std::async(std::launch::async, prepare_batch, following);
    if (conversion) input = conversion->apply(input);
    torch::Tensor p;
    {
      engine::AutocastScope autocast(o.precision, o.device.type());
      for (const auto& v : views) {
        torch::Tensor x = input;
        if (v.transpose) x = x.transpose(2, 3);
        if (!v.flips.empty()) x = x.flip(v.flips);
        torch::Tensor q = probabilities(model.forward(x.contiguous()).logits, o.temperature);
        if (!v.flips.empty()) q = q.flip(v.flips);
        if (v.transpose) q = q.transpose(2, 3);
        p = p.defined() ? p + q : q;
      }
    }
    if (p.size(2) != o.window_h || p.size(3) != o.window_w)
      throw ConfigError("the model returns " + std::to_string(p.size(2)) + " x " + std::to_string(p.size(3)) +
                        " maps for " + std::to_string(o.window_h) + " x " + std::to_string(o.window_w) +
                        " windows; sliding windows need a model whose output has its input's size");
    p = (p.to(torch::kFloat) / static_cast<double>(views.size())) * device_weight;
    if (!acc.defined()) {
      channels = p.size(1);
      acc = torch::zeros({channels, o.window_h, PW}, on_device);
    }
    for (size_t j = 0; j < count; ++j) {
      const Job& job = jobs[begin + j];
      if (job.y > band_y) emit(job.y);
      acc.narrow(1, job.y - band_y, o.window_h).narrow(2, job.x, o.window_w).add_(p[static_cast<int64_t>(j)]);
      wsum.narrow(0, job.y - band_y, o.window_h).narrow(1, job.x, o.window_w).add_(device_weight);
    }
    begin = following;
  }
  emit(PH);
  if (queue) queue->finish();
}

}  // namespace

void warm_up(Model& model, int64_t channels, const SlidingWindowOptions& o) {
  check_options(o);
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::zeros({std::max<int64_t>(1, o.batch_size), channels, o.window_h, o.window_w},
                                       torch::TensorOptions(torch::kFloat).device(o.device));
  {
    engine::AutocastScope autocast(o.precision, o.device.type());
    (void)model.forward(x).logits.sum().item<float>();  // item(): waits for the device
  }
}

void sliding_window(Model& model, const cv::Mat& scene, const PrepareWindow& prepare, const SlidingWindowOptions& o,
                    const RowSink& sink) {
  check_options(o);
  if (scene.empty()) throw ConfigError("empty scene");
  // A scene smaller than a window: reflect-pad it, predict, crop.
  cv::Mat padded = scene;
  const int64_t H = scene.rows, W = scene.cols;
  if (H < o.window_h || W < o.window_w) {
    const int bottom = static_cast<int>(std::max<int64_t>(0, o.window_h - H));
    const int right = static_cast<int>(std::max<int64_t>(0, o.window_w - W));
    cv::copyMakeBorder(scene, padded, 0, bottom, 0, right, H > 1 && W > 1 ? cv::BORDER_REFLECT_101 : cv::BORDER_REPLICATE);
  }
  slide(model, padded.rows, padded.cols, H, W,
        [&padded](int64_t y0, int64_t n) { return padded.rowRange(static_cast<int>(y0), static_cast<int>(y0 + n)); },
        prepare, o, sink);
}

void sliding_window(Model& model, int64_t height, int64_t width, const ReadRows& read, const PrepareWindow& prepare,
                    const SlidingWindowOptions& o, const RowSink& sink) {
  check_options(o);
  if (height < 1 || width < 1) throw ConfigError("empty scene");
  if (height < o.window_h || width < o.window_w) {  // small: read whole, padded
    sliding_window(model, read(0, height), prepare, o, sink);
    return;
  }
  slide(model, height, width, height, width, read, prepare, o, sink);
}

}  // namespace xp::inference
