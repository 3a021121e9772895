#pragma once
// The run as the registry sees it: each epoch's values, the files written (checkpoints, metrics,
// logs), the summary, and a heartbeat from its own thread so that a run whose process died is
// later marked crashed. Calls into the recorder are serialized: the heartbeat thread shares it.

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "engine/callback.h"
#include "xp/base/run_recorder.h"

namespace xp::engine {

class RegistryCallback : public Callback {
 public:
  RegistryCallback(RunRecorder& recorder, std::string run_id, double heartbeat_seconds)
      : recorder_(recorder), id_(std::move(run_id)), heartbeat_seconds_(heartbeat_seconds) {}
  ~RegistryCallback() override { stop_heartbeat(); }

  void on_fit_start(TrainState&) override { start_heartbeat(); }
  void on_epoch_end(TrainState& state, const MetricsRow& row) override;
  void on_interrupt(TrainState& state) override { record_artifacts(state); }
  void on_fit_end(TrainState& state) override;

 private:
  template <class F>
  void call(F&& f) {
    std::lock_guard<std::mutex> lock(mutex_);
    f(recorder_);
  }
  void record_artifacts(TrainState& state);
  void start_heartbeat();
  void stop_heartbeat();

  RunRecorder& recorder_;
  std::string id_;
  double heartbeat_seconds_;
  std::mutex mutex_;
  std::thread heartbeat_;
  std::mutex beat_mutex_;
  std::condition_variable beat_cv_;
  bool done_ = false;
};

}  // namespace xp::engine
