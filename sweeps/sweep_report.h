#pragma once
// What a finished (or running) sweep found: trials ranked by objective, the best configuration as
// a ready-to-run experiment file, and how each parameter related to the objective.

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "search_space.h"
#include "sweep_config.h"
#include "sweep_store.h"
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

// The completed trials whose value of one parameter falls in one bucket, and how they scored.
struct ParameterBucket {
  std::string label;          // the value ("0.25"), or a closed range of values ("[0.5, 1.7]")
  int64_t trials = 0;
  std::optional<double> mean, best;  // objective; empty when no completed trial fell in the bucket
};
// Buckets of dimension `d` over completed trials: choices as they are (in the order of `values`,
// empty ones included); numbers with at most `bins` distinct values one bucket per value, else
// `bins` quantile bins (about equally many trials each; equal values never split).
std::vector<ParameterBucket> parameter_buckets(const std::vector<TrialRecord>& trials, const Dimension& d,
                                               Direction direction, size_t bins = 4);

// Per dimension: its range, the best trial's value and, for numbers, the Spearman correlation
// with the objective; then one table of parameter_buckets (trials, mean and best objective per
// value or quantile bin), over completed trials.
void print_parameter_summary(std::ostream& os, const std::vector<TrialRecord>& trials, const SweepConfig& config);

// The whole report, as `xp sweep report` and `xp report --sweep` print it: state, the ranked
// trials (the `top` best when top > 0), the per-parameter summary, the best configuration as an
// experiment file and as an `xp run` line. Returns that file's text, "" when no trial completed.
std::string write_sweep_report(std::ostream& os, const SweepRecord& sweep, const SweepConfig& config,
                               const std::vector<TrialRecord>& trials, int64_t top = 0);
// Counts per state, e.g. "12 complete, 3 pruned, 1 running".
std::string state_counts(const std::vector<TrialRecord>& trials);

}  // namespace xp::sweeps
