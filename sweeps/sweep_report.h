#pragma once
// What a finished (or running) sweep found: trials ranked by objective, the best configuration as
// a ready-to-run experiment file, and how each parameter related to the objective.

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "sweep_config.h"
#include "trial.h"

namespace xp::sweeps {

// Completed trials best first, then pruned ones (those that got further first), then the rest.
std::vector<TrialRecord> rank_trials(std::vector<TrialRecord> trials, Direction direction);
std::optional<TrialRecord> best_trial(const std::vector<TrialRecord>& trials, Direction direction);

// An experiment file that extends the swept experiment with [sweep.fixed] and the trial's
// parameters, as nested TOML tables.
std::string best_config_toml(const SweepConfig& config, const TrialRecord& trial, const std::string& sweep_id);
// The same as an `xp run` command line.
std::string trial_command_line(const SweepConfig& config, const TrialRecord& trial);

// Spearman rank correlation; nullopt with fewer than 3 pairs or a constant side.
std::optional<double> spearman(const std::vector<double>& x, const std::vector<double>& y);

void print_trial_table(std::ostream& os, const std::vector<TrialRecord>& ranked, const SweepConfig& config);
// Per dimension: its range, the best trial's value, and its link to the objective (Spearman for
// numbers, mean objective per value for choices), over completed trials.
void print_parameter_summary(std::ostream& os, const std::vector<TrialRecord>& trials, const SweepConfig& config);
// Counts per state, e.g. "12 complete, 3 pruned, 1 running".
std::string state_counts(const std::vector<TrialRecord>& trials);

}  // namespace xp::sweeps
