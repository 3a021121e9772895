#pragma once
// A sweep file: which experiment to tune, how (grid, random, TPE), for what objective, on what
// budget, with which early stopping, over which [space]. Parsing checks everything up front through
// the same Schema machinery as experiment files: every mistake at once, each at file:line:col, with
// "did you mean" for misspelt keys, types and methods.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pruner.h"
#include "sampler.h"
#include "search_space.h"
#include "xp/schema.h"

namespace xp::sweeps {

struct SweepConfig {
  std::filesystem::path file;        // the sweep file (absolute)
  std::filesystem::path experiment;  // base experiment, absolute (relative paths resolve against `file`)
  std::string variant;               // "" = the experiment's only arm
  std::string method = "tpe";
  std::string metric;                // summary metric of a run: the objective
  Direction direction = Direction::Minimize;
  std::optional<int64_t> trials;     // budget: trials in total ...
  std::optional<double> max_minutes; // ... and/or wall-clock minutes from the start of `xp sweep`
  std::vector<int64_t> seeds;        // seeds per trial (objective = their mean); empty = the experiment's
  uint64_t sampler_seed = 0;
  int64_t workers = 1;               // default for --workers
  int64_t max_retries = 2;           // re-runs of a trial whose worker vanished, then it is crashed
  double lease_seconds = 60;         // a claim lives this long unless renewed (workers renew every few s)
  TpeOptions tpe;
  PrunerOptions pruner;
  std::map<std::string, Value> fixed;  // [sweep.fixed]: --set overrides shared by every trial
  SearchSpace space;
  std::string text;                  // the file as read, stored with the sweep so workers re-parse it

  SamplerOptions sampler_options() const;
  // Trials the sweep will create at most: `trials`, capped by the grid size for grid sweeps.
  std::optional<int64_t> max_trials() const;
};

// The schema [sweep] is checked against (for documentation and `xp sweep --help`).
const Schema& sweep_file_schema();

SweepConfig parse_sweep_file(const std::filesystem::path& file);
// `source` names the file in messages and anchors the relative experiment path.
SweepConfig parse_sweep_text(const std::string& text, const std::filesystem::path& source);

}  // namespace xp::sweeps
