#pragma once
// SweepStore on SQLite, in the run registry's database file (its own tables: sweeps, sweep_trials,
// sweep_trial_params, sweep_trial_values). WAL and a busy timeout let the coordinator and its
// workers, each with its own connection, share the file; every claim is a BEGIN IMMEDIATE
// transaction, so two processes never claim the same trial.

#include <filesystem>
#include <functional>

#include "sweep_store.h"

struct sqlite3;

namespace xp::sweeps {

class SqliteSweepStore : public SweepStore {
 public:
  using Clock = std::function<double()>;  // unix seconds; tests move time by hand
  explicit SqliteSweepStore(const std::filesystem::path& db, Clock clock = {});
  ~SqliteSweepStore() override;
  SqliteSweepStore(const SqliteSweepStore&) = delete;
  SqliteSweepStore& operator=(const SqliteSweepStore&) = delete;

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
  std::vector<TrialRecord> trials(const std::string& sweep_id) override;

  static double system_clock();

 private:
  void exec(const char* sql);
  int64_t expire_leases_locked(const SweepRecord& sweep, double now);
  SweepRecord require_sweep(const std::string& sweep_id);

  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
  Clock clock_;
};

}  // namespace xp::sweeps
