#include "inference/sliding_window.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <future>
#include <optional>

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
  // Off the host, finished rows go to the sink on a thread of their own (one call at a time, in
  // order): the copy back waits for the device there, and the sink's work (quantizing, masks,
  // objects, writing) overlaps the next windows. On the CPU the sink runs inline.
  std::future<void> pending;
  auto deliver = [&](int64_t y0, torch::Tensor rows) {
    if (on_host) {
      sink(y0, rows.contiguous());
      return;
    }
    if (pending.valid()) pending.get();
    pending = std::async(std::launch::async, [&sink, y0, rows = std::move(rows)] {
      torch::NoGradGuard guard;
      sink(y0, rows.to(torch::kCPU).contiguous());
    });
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
    torch::Tensor input = next.get().to(o.device, /*non_blocking=*/true);
    const size_t count = static_cast<size_t>(input.size(0));
    const size_t following = begin + count;
    if (following < jobs.size()) next = std::async(std::launch::async, prepare_batch, following);
    if (conversion) input = conversion->apply(input);
    torch::Tensor p;
    {
      engine::AutocastScope autocast(o.precision);
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
  if (pending.valid()) pending.get();
}

}  // namespace

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
