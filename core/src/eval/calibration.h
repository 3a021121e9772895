#pragma once
// Post-training calibration on the validation set: the decision threshold that maximises F1 (rare
// objects: 0.5 is rarely right) and temperature scaling (Guo et al. 2017) with the expected
// calibration error before and after.

#include <torch/torch.h>

namespace xp {

struct ThresholdChoice {
  double threshold = 0.5;
  double f1 = 0.0, precision = 0.0, recall = 0.0;
};

// probs and targets flattened; `valid` (bool, optional) drops ignored pixels. Exact: every distinct
// probability is a candidate threshold (predict positive when prob >= threshold).
ThresholdChoice best_f1_threshold(const torch::Tensor& probs, const torch::Tensor& targets,
                                  const torch::Tensor& valid = {});

struct TemperatureFit {
  double temperature = 1.0;
  double nll_before = 0.0, nll_after = 0.0;
  double ece_before = 0.0, ece_after = 0.0;
};

// Binary: logits [N] with targets in {0,1}. Multi-class: logits [N, K] with int64 targets [N].
// Minimises the validation NLL over T in [0.05, 20] by golden-section search on log T (the NLL is
// unimodal in T), so the result is deterministic and needs no learning rate.
TemperatureFit fit_temperature(const torch::Tensor& logits, const torch::Tensor& targets,
                               const torch::Tensor& valid = {});

// Expected calibration error with `bins` equal-width confidence bins.
double expected_calibration_error(const torch::Tensor& logits, const torch::Tensor& targets, int64_t bins = 15,
                                  const torch::Tensor& valid = {});

}  // namespace xp
