#include "inference/classifier.h"

#include <atomic>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <opencv2/core.hpp>
#include <torch/torch.h>

#include "data/collate.h"

#include "engine/mixed_precision.h"
#include "engine/train_options.h"
#include "eval/tta.h"
#include "xp/errors.h"

namespace xp::inference {

torch::Tensor apply_temperature(const torch::Tensor& probabilities, double temperature) {
  if (temperature == 1.0) return probabilities;
  return torch::softmax(torch::log(probabilities.clamp_min(1e-12)) / temperature, 1);
}

namespace {

// Per run: its pixel conversion when it happens on the run's device (a GPU): images then travel as
// uint8, a quarter of the bytes, and become float there.
using Conversions = std::vector<std::optional<engine::DeferredConversion>>;

// One batch of files read and prepared for every run of an ensemble: per run, the prepared images
// grouped by their evaluation size, each group already stacked (page-locked when the run's device
// is a GPU, so that the copy can overlap).
struct PreparedBatch {
  int64_t n = 0;  // files in the batch
  std::vector<std::string> failed;  // per file: why it could not be predicted (empty = fine)
  struct Group {
    std::vector<int64_t> rows;
    torch::Tensor input;
  };
  std::vector<std::vector<Group>> groups;  // [run][group]
};

// Runs body(i) for i in [0, n) on `threads` threads (the calling one among them). Not
// at::parallel_for: called from the thread that reads ahead, it did not spread the reads on the
// H200 machine (390 images/s on 16 cores; an OpenMP thread count is set per calling thread, the
// likely reason).
void for_each_index(int64_t n, int64_t threads, const std::function<void(int64_t)>& body) {
  std::atomic<int64_t> next{0};
  auto work = [&] {
    for (int64_t i; (i = next.fetch_add(1)) < n;) body(i);
  };
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < std::min(threads, n); ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
}

PreparedBatch prepare_batch(const std::vector<LoadedRun>& runs, const Conversions& conversions,
                            const std::vector<std::string>& paths, int64_t begin, int64_t n, int64_t threads) {
  PreparedBatch b;
  b.n = n;
  b.failed.resize(static_cast<size_t>(n));
  std::vector<torch::Tensor> prepared(static_cast<size_t>(n));
  for (size_t r = 0; r < runs.size(); ++r) {
    const LoadedRun& run = runs[r];
    std::vector<std::string> reasons(static_cast<size_t>(n));
    // read_image refuses a file whose channels the model cannot take (a ConfigError for the whole
    // job): the first such error is rethrown here, after every thread has stopped.
    std::exception_ptr error;
    std::mutex error_mutex;
    for_each_index(n, threads, [&](int64_t i) {
      prepared[i] = torch::Tensor();
      try {
        cv::Mat image = read_image(paths[begin + i], static_cast<int>(run.setup.info.channels), reasons[i]);
        if (image.empty()) return;
        try {
          prepared[i] = conversions[r] ? prepare_image(run, std::move(image), begin + i, *conversions[r])
                                       : prepare_image(run, std::move(image), begin + i);
        } catch (const std::exception& e) {
          reasons[i] = std::string("evaluation transforms failed: ") + e.what();
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    });
    if (error) std::rethrow_exception(error);
    for (int64_t i = 0; i < n; ++i)
      if (b.failed[i].empty() && !reasons[i].empty()) b.failed[i] = reasons[i];
    // Images of one evaluation size (and type: uint8 or, after a float transform, float) go through
    // the model together (a run without a resize in its [[eval_augment]] sees each file at its own size).
    std::map<std::pair<std::vector<int64_t>, int>, std::vector<int64_t>> by_shape;
    for (int64_t i = 0; i < n; ++i)
      if (prepared[i].defined())
        by_shape[{prepared[i].sizes().vec(), static_cast<int>(prepared[i].scalar_type())}].push_back(i);
    auto& groups = b.groups.emplace_back();
    for (auto& [shape, rows] : by_shape) {
      std::vector<torch::Tensor> inputs;
      for (int64_t i : rows) inputs.push_back(prepared[i]);
      groups.push_back({std::move(rows), data::stack_samples(inputs, !run.device.is_cpu())});
    }
  }
  return b;
}

// Probabilities of one run for one prepared batch (rows the model refused are marked in `failed`).
torch::Tensor run_batch(LoadedRun& run, const std::optional<engine::DeferredConversion>& conversion,
                        const std::vector<PreparedBatch::Group>& groups, int64_t n, const std::string& tta,
                        std::vector<std::string>& failed) {
  torch::Tensor out;
  torch::NoGradGuard no_grad;
  for (const auto& group : groups) {
    torch::Tensor p;
    try {
      engine::AutocastScope autocast(run.precision, run.device.type());
      torch::Tensor input = group.input.to(run.device, /*non_blocking=*/true);
      if (input.scalar_type() == torch::kUInt8) input = conversion->device.apply(input).contiguous();
      p = predict_probabilities(*run.setup.model, input, Task::Classification, tta);
    } catch (const c10::Error& e) {
      const std::string what = e.what_without_backtrace();
      const bool hwc = group.input.scalar_type() == torch::kUInt8;
      for (int64_t i : group.rows)
        failed[i] = "the model cannot take a " + std::to_string(group.input.size(hwc ? 1 : 2)) + " x " +
                    std::to_string(group.input.size(hwc ? 2 : 3)) + " input (" + what.substr(0, what.find('\n')) + ")";
      continue;
    }
    p = apply_temperature(p.to(torch::kCPU, torch::kFloat), run.temperature);
    if (!out.defined()) out = torch::full({n, p.size(1)}, -1.0f);
    out.index_copy_(0, torch::tensor(group.rows, torch::kLong), p);
  }
  if (!out.defined()) out = torch::full({n, 0}, 0.0f);
  return out;
}

}  // namespace

ClassifyResult classify_files(std::vector<LoadedRun>& runs, const std::vector<std::string>& paths,
                              const ClassifyOptions& options) {
  if (runs.empty()) throw ConfigError("no model to predict with");
  check_tta_mode(options.tta);
  ClassifyResult result;
  const auto& first = runs.front().setup;
  int64_t batch = options.batch_size > 0 ? options.batch_size
                  : first.options.eval_batch_size > 0 ? first.options.eval_batch_size
                                                      : first.options.batch_size;
  batch = std::max<int64_t>(1, batch);
  // On a GPU the next batch is read and prepared on the CPU while the model runs on this one, as a
  // DataLoader's workers would: reading is most of the time there. On the CPU both would share the
  // same cores, so the batches are taken one after the other.
  bool ahead = false;
  for (const auto& run : runs) ahead = ahead || !run.device.is_cpu();
  // Files are read and prepared on the run's loader workers (train.workers, or --workers; auto:
  // every core but two on a GPU, 2 on the CPU), as its evaluation batches were.
  const int64_t threads =
      std::max<int64_t>(1, engine::resolve_workers(options.workers.value_or(first.options.workers), ahead));
  // As in the data loader: these threads are the parallelism, OpenCV's pool inside each decode and
  // resize would only oversubscribe the cores.
  if (threads > 1) cv::setNumThreads(1);
  Conversions conversions;
  for (const auto& run : runs)
    conversions.push_back(run.device.is_cuda() ? std::optional(engine::defer_pixel_conversion(
                                                     run.setup.eval_augment, run.setup.eval_final_normalize, run.device))
                                               : std::nullopt);
  std::vector<torch::Tensor> rows_out;
  const auto total = static_cast<int64_t>(paths.size());
  auto prepare = [&](int64_t begin) {
    return prepare_batch(runs, conversions, paths, begin, std::min(batch, total - begin), threads);
  };
  std::future<PreparedBatch> next;
  if (total > 0) next = std::async(ahead ? std::launch::async : std::launch::deferred, prepare, 0);
  for (int64_t begin = 0; begin < total; begin += batch) {
    PreparedBatch b = next.get();
    if (begin + batch < total) next = std::async(ahead ? std::launch::async : std::launch::deferred, prepare, begin + batch);
    const int64_t n = b.n;
    torch::Tensor sum;
    for (size_t r = 0; r < runs.size(); ++r) {
      LoadedRun& run = runs[r];
      torch::Tensor p = run_batch(run, conversions[r], b.groups[r], n, options.tta, b.failed);
      if (p.size(1) == 0) continue;
      if (sum.defined() && sum.size(1) != p.size(1))
        throw ConfigError("run " + run.id + " predicts " + std::to_string(p.size(1)) + " classes, " +
                          std::to_string(sum.size(1)) + " in " + runs.front().id);
      sum = sum.defined() ? sum + p : p;
    }
    for (int64_t i = 0; i < n; ++i) {
      if (!b.failed[i].empty() || !sum.defined()) {
        result.skipped.emplace_back(paths[begin + i], b.failed[i].empty() ? "could not be prepared" : b.failed[i]);
        continue;
      }
      result.paths.push_back(paths[begin + i]);
      rows_out.push_back(sum[i] / static_cast<double>(runs.size()));
    }
    if (options.progress)
      *options.progress << "\rpredicted " << (begin + n) << "/" << total << std::flush;
  }
  if (options.progress && total > 0) *options.progress << "\n";
  result.probabilities = rows_out.empty() ? torch::zeros({0, 0}) : torch::stack(rows_out);
  return result;
}

}  // namespace xp::inference
