#pragma once
// What the engine tells the outside world about a run. The SQLite registry implements it
// (registry/run_registry.h); tests use an in-memory recorder. The engine never talks SQL.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace xp {

struct RunInfo {
  std::string experiment, variant;
  int64_t seed = 0;
  std::string config_text, config_hash;            // RunSpec::canonical / hash
  std::map<std::string, std::string> params;       // RunSpec::flat
  std::string run_dir;                             // absolute path of the run's output folder
  std::string command_line, host;
  int64_t pid = 0;
  std::string xp_version, torch_version, cuda_version, device;
  std::string git_commit, git_diff;                // commit of the experiment's repository, diff if dirty
  bool git_dirty = false;
  std::map<std::string, std::string> tags;         // free tags, e.g. sweep id and trial number
};

enum class RunStatus { Running, Finished, Failed, Diverged, Crashed, Pruned, Interrupted };
const char* run_status_name(RunStatus s);

class RunRecorder {
 public:
  virtual ~RunRecorder() = default;
  // Creates the run; returns its id (short, unique, used for folders and `xp show ID`).
  virtual std::string begin(const RunInfo& info) = 0;
  // Marks an existing run running again (xp run --resume).
  virtual void resume(const std::string& run_id) = 0;
  // Per-epoch values, e.g. {"train_loss": .., "val_top1": ..}. Implementations batch the writes.
  virtual void log_metrics(const std::string& run_id, int64_t epoch, int64_t step,
                           const std::map<std::string, double>& values) = 0;
  // Summary values (best_val_top1, test_top1, threshold, ...), replacing earlier ones of that name.
  virtual void set_summary(const std::string& run_id, const std::map<std::string, double>& values) = 0;
  virtual void add_artifact(const std::string& run_id, const std::string& path, const std::string& kind) = 0;
  virtual void set_tag(const std::string& run_id, const std::string& key, const std::string& value) = 0;
  // Proves the process is alive; a run whose heartbeat stops is later marked crashed.
  virtual void heartbeat(const std::string& run_id) = 0;
  virtual void finish(const std::string& run_id, RunStatus status, const std::string& message = {}) = 0;
};

}  // namespace xp
