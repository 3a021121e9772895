#pragma once
// Ensembles of finished runs: every member predicts the test split with its own model, its own
// evaluation transforms (members may differ in architecture and image size) and the chosen TTA;
// the ensemble's prediction is the (weighted) mean of the members' probabilities, sample by sample.
// Each member and the ensemble are scored with the same metrics on the same samples.

#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "xp/dataset.h"
#include "xp/metric.h"

namespace xp {

class PluginLoader;

struct EnsembleMember {
  std::string id;                 // run id, used in messages and reports
  std::filesystem::path run_dir;  // holds config.toml and checkpoints/
  double weight = 1.0;
};

// One member's predictions on the whole split, row i = sample i of the split.
struct MemberPredictions {
  std::string id;
  Task task = Task::Classification;
  torch::Tensor probabilities;  // [N, K] (classification) or [N, C, H, W] (segmentation), float32
  torch::Tensor targets;        // [N] int64 or [N, 1, H, W] float32
  std::map<std::string, torch::Tensor> extra;  // further targets by name, [N] int64
  torch::Tensor present;        // [N] bool: false where the sample could not be loaded (skipped)
  std::vector<std::shared_ptr<Metric>> metrics;  // the member's own [[metrics]] plugins
};

struct EnsembleOptions {
  std::string tta = "none";        // eval/tta.h modes
  std::string checkpoint = "best"; // best or last
  std::string split = "test";
  std::ostream* out = nullptr;     // one line per member as it is evaluated; null: quiet
};

struct EnsembleScores {
  std::vector<std::string> metric_names;                   // "test_top1", ..., then "test_nll"
  std::vector<std::map<std::string, double>> members;      // one per member, in order
  std::map<std::string, double> ensemble;
  int64_t samples = 0;   // scored: present in every member's pass
  int64_t skipped = 0;   // left out because some member could not load them
  int64_t classes = 0;
};

// Builds the member's model, data and metrics from its recorded config.toml, loads
// checkpoints/<checkpoint>.pt and predicts `options.split`. Throws xp::ConfigError when the run
// folder lacks the config or the checkpoint, or the dataset has no such split.
MemberPredictions predict_member(const EnsembleMember& member, const EnsembleOptions& options, PluginLoader& loader);

// Checks that every member predicted the same split: the same number of samples, classes and the
// same targets. Throws xp::ConfigError naming the first member that differs from the first one.
void check_aligned(const std::vector<MemberPredictions>& members);

// The weighted mean of the members' probabilities (weights need not sum to 1; all must be >= 0
// and one > 0). `present` is true where every member has the sample. Calls check_aligned.
MemberPredictions average_predictions(const std::vector<MemberPredictions>& members, const std::vector<double>& weights);

// Runs `metrics` (reset first) over the samples present in `mask`, feeding them log-probabilities
// as logits (logit(p) for one-channel segmentation), and adds "nll": the mean negative
// log-likelihood of the targets (classification). Keys are prefixed with `prefix` + "_".
std::map<std::string, double> score_predictions(const MemberPredictions& predictions, const torch::Tensor& mask,
                                                const std::vector<std::shared_ptr<Metric>>& metrics,
                                                const std::string& prefix, int64_t batch_size = 256);

// The whole pipeline: predicts every member, averages, and scores members and ensemble with the
// first member's metrics on the samples every member could load.
EnsembleScores evaluate_ensemble(const std::vector<EnsembleMember>& members, const EnsembleOptions& options,
                                 PluginLoader& loader);

}  // namespace xp
