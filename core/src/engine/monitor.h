#pragma once
// One rule for the metric a run watches: the checkpoint's best, early stopping and the console's
// "*" all go through resolve_monitor, which applies the no-validation fallback to the name *and*
// the mode (a run without a val split can only watch train_loss, which is minimized).

#include <string>
#include <vector>

namespace xp::engine {

struct Monitor {
  std::string name = "val_loss";
  std::string mode = "min";   // "min" or "max"
  bool fell_back = false;     // name/mode replaced because the run has no val split

  // `value` beats `best` by more than `min_delta` in this monitor's direction.
  bool better(double value, double best, double min_delta = 0.0) const {
    return mode == "max" ? value > best + min_delta : value < best - min_delta;
  }
};

Monitor resolve_monitor(const std::string& name, const std::string& mode, bool has_val_split);

// The metric names an epoch row can hold for the given metric outputs (the metric plugins'
// declared output names, glob patterns allowed: "top*"): train_loss, val_loss, val_<output>.
std::vector<std::string> epoch_metric_names(const std::vector<std::string>& metric_outputs);

// Whether `name` can appear in an epoch row: an exact name or a match of a declared pattern.
bool is_epoch_metric(const std::string& name, const std::vector<std::string>& metric_outputs);

}  // namespace xp::engine
