#pragma once
// SweepStore in the run registry's database, SQLite file or PostgreSQL server (tables sweeps,
// sweep_trials, sweep_trial_params, sweep_trial_values; part of the registry schema). Every claim,
// renewal and expiry is one transaction that first locks the sweep (BEGIN IMMEDIATE on SQLite, the
// sweep's row FOR UPDATE on PostgreSQL), so two workers, on any machines, never claim one trial.

#include <filesystem>
#include <functional>
#include <memory>

#include "sweep_store.h"

namespace xp::sql {
class Database;
}

namespace xp::sweeps {

class SqlSweepStore : public SweepStore {
 public:
  using Clock = std::function<double()>;  // unix seconds; tests move time by hand
  // `registry`: the registry's SQLite file or postgresql:// URL (the process's connection to it is
  // shared with the run registry).
  explicit SqlSweepStore(const std::filesystem::path& registry, Clock clock = {});
  ~SqlSweepStore() override;
  SqlSweepStore(const SqlSweepStore&) = delete;
  SqlSweepStore& operator=(const SqlSweepStore&) = delete;

  std::string create_sweep(const SweepRecord& sweep) override;
  std::optional<SweepRecord> find_sweep(const std::string& sweep_id) override;
  std::vector<SweepRecord> list_sweeps() override;
  void set_sweep_state(const std::string& sweep_id, SweepState state) override;
  void set_deadline(const std::string& sweep_id, std::optional<double> deadline) override;
  std::optional<TrialRecord> claim_trial(const std::string& sweep_id, const std::string& worker,
                                         const Proposer& propose) override;
  bool renew_lease(const std::string& sweep_id, int64_t number, const std::string& worker) override;
  int64_t expire_leases(const std::string& sweep_id) override;
  void report_intermediate(const std::string& sweep_id, int64_t number, int64_t epoch, double value) override;
  void set_trial_runs(const std::string& sweep_id, int64_t number, const std::vector<std::string>& run_ids) override;
  bool finish_trial(const std::string& sweep_id, int64_t number, const std::string& worker, TrialState state,
                    std::optional<double> value, std::optional<int64_t> pruned_epoch,
                    const std::string& message) override;
  int64_t requeue_interrupted(const std::string& sweep_id) override;
  // Trials planned up front rather than proposed (the runs of `xp run --launcher slurm`,
  // run_batch.h): inserts them as waiting trials numbered from 0 in one transaction; numbers that
  // exist are left alone, so submitting a batch twice adds nothing.
  void add_planned_trials(const std::string& sweep_id, const std::vector<ParamSet>& params);
  // Failed, crashed and interrupted trials go back to waiting with their attempts reset (a
  // resubmitted batch: the user asked for them again). Returns how many.
  int64_t requeue_unfinished(const std::string& sweep_id);
  std::vector<TrialRecord> trials(const std::string& sweep_id) override;
  void add_job(const std::string& sweep_id, const SweepJob& job) override;
  std::vector<SweepJob> jobs(const std::string& sweep_id) override;

  static double system_clock();

 private:
  void lock_sweep(const std::string& sweep_id);
  int64_t expire_leases_locked(const SweepRecord& sweep, double now);
  SweepRecord require_sweep(const std::string& sweep_id);

  std::shared_ptr<sql::Database> db_;
  std::filesystem::path path_;
  Clock clock_;
};

}  // namespace xp::sweeps
