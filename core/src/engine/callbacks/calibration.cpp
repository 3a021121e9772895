#include "engine/callbacks/calibration.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "engine/metrics_format.h"
#include "eval/calibration.h"
#include "eval/reliability_diagram.h"

namespace xp::engine {

void CalibrationCallback::on_test_end(TrainState& state) {
  if (!val_ || !test_) return;
  // Fit on validation outputs (with the same weights and TTA the test uses), then test again with
  // the calibration folded into the logits: z' = z / T - logit(t), so a metric thresholding the
  // probability at 0.5 thresholds the calibrated probability at t. Ranking metrics (AP) are unchanged.
  std::vector<torch::Tensor> val_logits, val_targets;
  EvalRequest collect{"calval", {}, [&](const Batch& batch, const torch::Tensor& logits) {
                        val_logits.push_back(logits.detach().to(torch::kCPU));
                        val_targets.push_back(batch.target.detach().to(torch::kCPU));
                      }};
  EvalResult fitted = evaluator_.evaluate(*val_, collect);
  state.skipped_samples += log_.skipped("calval", state.total_epochs, fitted.skipped);
  if (val_logits.empty()) return;
  torch::Tensor logits = torch::cat(val_logits), targets = torch::cat(val_targets);
  const bool binary_seg = task_ == Task::Segmentation && logits.size(1) == 1;
  torch::Tensor valid;
  if (binary_seg) {
    valid = (targets >= 0) & (targets <= 1);  // ignored pixels carry the ignore value (255)
    logits = logits.reshape({-1});
    targets = targets.reshape({-1});
    valid = valid.reshape({-1});
  }
  auto& summary = state.summary;
  double temperature = 1.0, threshold = 0.5;
  if (o_.temperature) {
    auto fit = fit_temperature(logits, targets, valid);
    temperature = fit.temperature;
    summary["calib_temperature"] = fit.temperature;
    summary["calib_ece_before"] = fit.ece_before;
    summary["calib_ece_after"] = fit.ece_after;
    summary["calib_nll_before"] = fit.nll_before;
    summary["calib_nll_after"] = fit.nll_after;
  }
  if (binary_seg && o_.threshold) {
    auto choice = best_f1_threshold(torch::sigmoid(logits.to(torch::kDouble) / temperature), targets, valid);
    threshold = std::clamp(choice.threshold, 1e-6, 1 - 1e-6);
    summary["calib_threshold"] = threshold;
    summary["calib_val_f1"] = choice.f1;
  }
  const double shift = std::log(threshold / (1 - threshold));
  // The reliability diagram of the test outputs before (the model's probabilities) and after the
  // temperature; the threshold is a decision rule, not part of the probability, so it is undone.
  ReliabilityDiagram before, after;
  EvalRequest calibrated{"test_cal", [temperature, shift](const torch::Tensor& z) { return z / temperature - shift; },
                         [&](const Batch& batch, const torch::Tensor& adjusted) {
                           const torch::Tensor scaled = adjusted.to(torch::kDouble) + shift;  // z / T
                           after.add(scaled, batch.target);
                           before.add(scaled * temperature, batch.target);
                         }};
  EvalResult r = evaluator_.evaluate(*test_, calibrated);
  state.skipped_samples += log_.skipped("test_cal", state.total_epochs, r.skipped);
  summary.insert(r.values.begin(), r.values.end());
  for (const auto& [k, v] : before.values("test")) summary[k] = v;
  for (const auto& [k, v] : after.values("test_cal")) summary[k] = v;
  std::ostringstream line;
  line << "calibrated (T=" << temperature << ", threshold=" << threshold << ") test" << format_row(r.values, stems_);
  log_.line(line.str());
}

}  // namespace xp::engine
