#include "inference/classifier.h"

#include <map>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "engine/mixed_precision.h"
#include "eval/tta.h"
#include "xp/errors.h"

namespace xp::inference {

torch::Tensor apply_temperature(const torch::Tensor& probabilities, double temperature) {
  if (temperature == 1.0) return probabilities;
  return torch::softmax(torch::log(probabilities.clamp_min(1e-12)) / temperature, 1);
}

namespace {

// Probabilities of one run for one batch of decoded images; rows whose preparation failed are
// reported through `failed` (reason per row, empty when fine).
torch::Tensor run_batch(LoadedRun& run, const std::vector<cv::Mat>& images, const std::vector<int64_t>& indices,
                        const std::string& tta, std::vector<std::string>& failed) {
  const auto n = static_cast<int64_t>(images.size());
  std::vector<torch::Tensor> prepared(images.size());
  at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      if (images[i].empty()) continue;
      try {
        prepared[i] = prepare_image(run, images[i].clone(), indices[i]);
      } catch (const std::exception& e) {
        failed[i] = std::string("evaluation transforms failed: ") + e.what();
      }
    }
  });
  // Images of one evaluation size go through the model together (a run without a resize in its
  // [[eval_augment]] sees each file at its own size).
  std::map<std::vector<int64_t>, std::vector<int64_t>> groups;
  for (int64_t i = 0; i < n; ++i)
    if (prepared[i].defined()) groups[prepared[i].sizes().vec()].push_back(i);
  torch::Tensor out;
  torch::NoGradGuard no_grad;
  for (const auto& [shape, rows] : groups) {
    std::vector<torch::Tensor> inputs;
    for (int64_t i : rows) inputs.push_back(prepared[i]);
    torch::Tensor p;
    try {
      engine::AutocastScope autocast(run.precision);
      p = predict_probabilities(*run.setup.model, torch::stack(inputs).to(run.device), Task::Classification, tta);
    } catch (const c10::Error& e) {
      const std::string what = e.what_without_backtrace();
      for (int64_t i : rows)
        failed[i] = "the model cannot take a " + std::to_string(shape[1]) + " x " + std::to_string(shape[2]) +
                    " input (" + what.substr(0, what.find('\n')) + ")";
      continue;
    }
    p = apply_temperature(p.to(torch::kCPU, torch::kFloat), run.temperature);
    if (!out.defined()) out = torch::full({n, p.size(1)}, -1.0f);
    out.index_copy_(0, torch::tensor(rows, torch::kLong), p);
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
  std::vector<torch::Tensor> rows_out;
  const auto total = static_cast<int64_t>(paths.size());
  for (int64_t begin = 0; begin < total; begin += batch) {
    const int64_t n = std::min(batch, total - begin);
    std::vector<std::string> failed(static_cast<size_t>(n));
    torch::Tensor sum;
    for (auto& run : runs) {
      std::vector<cv::Mat> images(static_cast<size_t>(n));
      std::vector<int64_t> indices(static_cast<size_t>(n));
      at::parallel_for(0, n, 1, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          indices[i] = begin + i;
          std::string reason;
          images[i] = read_image(paths[begin + i], static_cast<int>(run.setup.info.channels), reason);
          if (images[i].empty() && failed[i].empty()) failed[i] = reason;
        }
      });
      torch::Tensor p = run_batch(run, images, indices, options.tta, failed);
      if (p.size(1) == 0) continue;
      if (sum.defined() && sum.size(1) != p.size(1))
        throw ConfigError("run " + run.id + " predicts " + std::to_string(p.size(1)) + " classes, " +
                          std::to_string(sum.size(1)) + " in " + runs.front().id);
      sum = sum.defined() ? sum + p : p;
    }
    for (int64_t i = 0; i < n; ++i) {
      if (!failed[i].empty() || !sum.defined()) {
        result.skipped.emplace_back(paths[begin + i], failed[i].empty() ? "could not be prepared" : failed[i]);
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
