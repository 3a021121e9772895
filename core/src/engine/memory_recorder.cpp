#include "engine/memory_recorder.h"

#include <stdexcept>

namespace xp::engine {

MemoryRecorder::Run& MemoryRecorder::at(const std::string& run_id) {
  auto it = runs_.find(run_id);
  if (it == runs_.end()) throw std::out_of_range("no run '" + run_id + "'");
  return it->second;
}

std::string MemoryRecorder::begin(const RunInfo& info) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string id = "run" + std::to_string(next_id_++);
  runs_[id].info = info;
  return id;
}

void MemoryRecorder::resume(const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& r = runs_[run_id];
  r.status = RunStatus::Running;
  ++r.resumes;
}

void MemoryRecorder::log_metrics(const std::string& run_id, int64_t epoch, int64_t,
                                 const std::map<std::string, double>& values) {
  std::lock_guard<std::mutex> lock(mutex_);
  at(run_id).metrics.emplace_back(epoch, values);
}

void MemoryRecorder::set_summary(const std::string& run_id, const std::map<std::string, double>& values) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [k, v] : values) at(run_id).summary[k] = v;
}

void MemoryRecorder::add_artifact(const std::string& run_id, const std::string& path, const std::string& kind) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& a = at(run_id).artifacts;
  for (const auto& existing : a)
    if (existing.first == path) return;
  a.emplace_back(path, kind);
}

void MemoryRecorder::set_tag(const std::string& run_id, const std::string& key, const std::string& value) {
  std::lock_guard<std::mutex> lock(mutex_);
  at(run_id).tags[key] = value;
}

void MemoryRecorder::heartbeat(const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++at(run_id).heartbeats;
}

void MemoryRecorder::finish(const std::string& run_id, RunStatus status, const std::string& message) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& r = at(run_id);
  r.status = status;
  r.message = message;
}

MemoryRecorder::Run MemoryRecorder::run(const std::string& run_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return runs_.at(run_id);
}

}  // namespace xp::engine
