#include "engine/callbacks/registry_recorder.h"

#include <chrono>

namespace xp::engine {

void RegistryCallback::start_heartbeat() {
  if (heartbeat_seconds_ <= 0 || heartbeat_.joinable()) return;
  heartbeat_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(beat_mutex_);
    while (!beat_cv_.wait_for(lock, std::chrono::duration<double>(heartbeat_seconds_), [&] { return done_; })) {
      lock.unlock();
      try {
        call([&](RunRecorder& r) { r.heartbeat(id_); });
      } catch (...) {
        // A registry hiccup must not end a training run; the next beat tries again.
      }
      lock.lock();
    }
  });
}

void RegistryCallback::stop_heartbeat() {
  {
    std::lock_guard<std::mutex> lock(beat_mutex_);
    done_ = true;
  }
  beat_cv_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
}

void RegistryCallback::record_artifacts(TrainState& state) {
  if (state.new_artifacts.empty()) return;
  call([&](RunRecorder& r) {
    for (const auto& [path, kind] : state.new_artifacts) r.add_artifact(id_, path, kind);
  });
  state.new_artifacts.clear();
}

void RegistryCallback::on_epoch_end(TrainState& state, const MetricsRow& row) {
  std::map<std::string, double> logged;
  for (const auto& [k, v] : row)
    if (k != "epoch" && k != "step") logged[k] = v;
  call([&](RunRecorder& r) {
    r.log_metrics(id_, static_cast<int64_t>(row.at("epoch")), state.progress.step, logged);
  });
  record_artifacts(state);
}

void RegistryCallback::on_fit_end(TrainState& state) {
  call([&](RunRecorder& r) { r.set_summary(id_, state.summary); });
  record_artifacts(state);
  stop_heartbeat();
}

}  // namespace xp::engine
