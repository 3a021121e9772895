#pragma once
// Classification predictions for image files: each file decoded as the run's dataset decodes,
// passed through the run's evaluation transforms, batched through the model (with optional TTA),
// probabilities tempered with the run's calibrated temperature. Several runs (an ensemble) are
// averaged, each with its own transforms and temperature.

#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "inference/run_model.h"

namespace xp::inference {

struct ClassifyOptions {
  std::string tta = "none";  // eval/tta.h modes
  int64_t batch_size = 0;    // 0: the run's eval batch size (else its batch size)
  std::optional<int64_t> workers;  // threads reading files: unset = the run's train.workers (-1 auto)
  std::ostream* progress = nullptr;
};

struct ClassifyResult {
  std::vector<std::string> paths;  // predicted, row i of `probabilities`
  torch::Tensor probabilities;     // [N, K] float32, on the CPU
  std::vector<std::pair<std::string, std::string>> skipped;  // path, reason
};

ClassifyResult classify_files(std::vector<LoadedRun>& runs, const std::vector<std::string>& paths,
                              const ClassifyOptions& options);

// softmax(log p / T): the calibrated probabilities from uncalibrated ones (exact without TTA; with
// TTA the temperature applies to the averaged probability).
torch::Tensor apply_temperature(const torch::Tensor& probabilities, double temperature);

}  // namespace xp::inference
