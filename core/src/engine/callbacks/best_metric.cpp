#include "engine/callbacks/best_metric.h"

#include <cmath>

#include "xp/base/suggest.h"
#include "xp/errors.h"

namespace xp::engine {

void judge_epoch(TrainState& state, const MetricsRow& row) {
  const Monitor& monitor = state.monitor;
  state.improved = false;
  auto value = row.find(monitor.name);
  if (value == row.end()) {
    // Epochs between evaluations (train.eval_every) have no val_* values: nothing to judge.
    const bool evaluated = row.count("val_loss") > 0 || monitor.name.rfind("val_", 0) != 0;
    if (!evaluated) return;
    std::vector<std::string> keys;
    for (const auto& [k, v] : row) keys.push_back(k);
    throw ConfigError("train.checkpoint.monitor = '" + monitor.name + "' is not a logged metric" +
                      did_you_mean(monitor.name, keys));
  }
  LoopState& p = state.progress;
  if (std::isfinite(value->second) && (!p.best || monitor.better(value->second, *p.best))) {
    p.best = value->second;
    p.best_epoch = static_cast<int64_t>(row.at("epoch"));
    state.improved = true;
  }
}

}  // namespace xp::engine
