#include "engine/monitor.h"

#include "xp/base/suggest.h"

namespace xp::engine {

Monitor resolve_monitor(const std::string& name, const std::string& mode, bool has_val_split) {
  if (!has_val_split && name.rfind("val_", 0) == 0) return {"train_loss", "min", true};
  return {name, mode, false};
}

std::vector<std::string> epoch_metric_names(const std::vector<std::string>& metric_outputs) {
  std::vector<std::string> names{"train_loss", "val_loss"};
  for (const auto& o : metric_outputs) names.push_back("val_" + o);
  return names;
}

bool is_epoch_metric(const std::string& name, const std::vector<std::string>& metric_outputs) {
  for (const auto& candidate : epoch_metric_names(metric_outputs))
    if (candidate == name || glob_match(candidate, name)) return true;
  return false;
}

}  // namespace xp::engine
