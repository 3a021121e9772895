#include "engine/callbacks/early_stopping.h"

#include "training/early_stopping.h"

namespace xp::engine {

bool EarlyStoppingCallback::should_stop(const std::vector<MetricsRow>& history) const {
  xp::EarlyStopping stopper({monitor_.mode == "max", o_.patience, o_.min_delta, o_.start_epoch, o_.window});
  bool stop = false;
  for (const auto& row : history) {
    auto e = row.find("epoch");
    auto v = row.find(monitor_.name);
    if (e != row.end() && v != row.end()) stop = stopper.update(static_cast<int64_t>(e->second), v->second);
  }
  return stop;
}

void EarlyStoppingCallback::on_epoch_end(TrainState& state, const MetricsRow&) {
  if (state.stop_requested() || !should_stop(state.history)) return;
  if (log_)
    log_->line("early stopping: " + monitor_.name + " has not improved for " + std::to_string(o_.patience) +
               " epochs");
  state.request_stop(RunStatus::Finished, "early stopping");
}

}  // namespace xp::engine
