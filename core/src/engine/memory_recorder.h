#pragma once
// A RunRecorder that keeps everything in memory: for tests, and for `xp run` when no registry is
// available. Thread-safe.

#include <mutex>
#include <vector>

#include "xp/base/run_recorder.h"

namespace xp::engine {

class MemoryRecorder : public RunRecorder {
 public:
  struct Run {
    RunInfo info;
    RunStatus status = RunStatus::Running;
    std::string message;
    std::vector<std::pair<int64_t, std::map<std::string, double>>> metrics;  // (epoch, values)
    std::map<std::string, double> summary;
    std::vector<std::pair<std::string, std::string>> artifacts;  // (path, kind)
    std::map<std::string, std::string> tags;
    int64_t heartbeats = 0, resumes = 0;
  };

  std::string begin(const RunInfo& info) override;
  void resume(const std::string& run_id) override;
  void log_metrics(const std::string& run_id, int64_t epoch, int64_t step,
                   const std::map<std::string, double>& values) override;
  void set_summary(const std::string& run_id, const std::map<std::string, double>& values) override;
  void add_artifact(const std::string& run_id, const std::string& path, const std::string& kind) override;
  void set_tag(const std::string& run_id, const std::string& key, const std::string& value) override;
  void heartbeat(const std::string& run_id) override;
  void finish(const std::string& run_id, RunStatus status, const std::string& message) override;

  Run run(const std::string& run_id) const;  // a copy; throws std::out_of_range for an unknown id

 private:
  Run& at(const std::string& run_id);
  mutable std::mutex mutex_;
  std::map<std::string, Run> runs_;
  int64_t next_id_ = 1;
};

}  // namespace xp::engine
