#pragma once
// A finished xp run's model for plugins that use trained models (a distillation teacher): rebuilt
// from the run's recorded config.toml with its plugins, weights from checkpoints/<checkpoint>.pt,
// in eval mode on the CPU with gradients off.

#include <filesystem>
#include <memory>
#include <string>

#include "xp/dataset.h"
#include "xp/model.h"

namespace xp {

struct TrainedModel {
  std::shared_ptr<Model> model;
  DatasetInfo info;         // the run's dataset: task, classes, channels
  std::string experiment;   // for messages
};

// run_dir: a run folder (holding config.toml and checkpoints/). Throws xp::ConfigError when it is
// not one, or lacks the checkpoint.
TrainedModel load_trained_model(const std::filesystem::path& run_dir, const std::string& checkpoint = "best");

}  // namespace xp
