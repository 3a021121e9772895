#pragma once
// One run of an experiment, from a resolved RunSpec to a finished record: builds the plugins
// (filling num_classes from the dataset), creates the run folder, records the run and trains.

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/run_spec.h"
#include "engine/trainer.h"
#include "xp/base/run_recorder.h"

namespace xp::engine {

// Builds what the trainer needs from the spec's validated plugin params.
TrainSetup build_setup(const RunSpec& spec);

// The data half of build_setup: options, seed, dataset info and splits, sampler and the
// per-sample augmentations; model, loss, batch augmentations and metrics stay empty. Shared with
// `xp augment preview`, so the preview loads exactly what training loads.
TrainSetup build_data_setup(const RunSpec& spec);

// Params with num_classes = 0 replaced by the dataset's number of classes, and class_groups = []
// by the group of each class (the SDK conventions, docs/plugins.md). Throws xp::ConfigError at the
// plugin's table when a plugin needs groups and the class names are not "group/leaf".
Params fill_from_dataset(const Params& params, const DatasetInfo& info);

// The group index of each class named "group/leaf": groups are numbered in order of first
// appearance (for sorted names, the sorted order of the groups). Throws xp::ConfigError naming the
// first class without a "group/" prefix.
std::vector<int64_t> class_groups_from_names(const std::vector<std::string>& class_names);

// Host, pid, versions, device and the git state of the experiment file's repository.
RunInfo make_run_info(const RunSpec& spec, const std::string& command_line);

struct RunRequest {
  std::filesystem::path runs_root;  // run folders go to <runs_root>/<experiment>/<run id>
  std::string command_line;
  std::string resume_run_id;        // non-empty: continue this run
  std::filesystem::path resume_dir; // its folder
  const std::atomic<bool>* interrupt = nullptr;
  std::ostream* out = &std::cout;
  bool tty = false;
  std::map<std::string, std::string> tags;  // --tag KEY=VALUE, recorded with every run
};

struct RunOutcome {
  std::string run_id;
  std::filesystem::path run_dir;
  TrainResult result;
};

// Records and trains one run. Errors while training end the run as failed (and are rethrown);
// a NaN loss ends it as diverged; an interrupt as interrupted.
RunOutcome run_one(const RunSpec& spec, RunRecorder& recorder, const RunRequest& request);

}  // namespace xp::engine
