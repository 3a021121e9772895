#pragma once
// Stops training when a monitored metric has not improved for `patience` evaluations, optionally on
// a moving average (noisy rare-object metrics jump from epoch to epoch) and only after start_epoch.

#include <cstdint>
#include <deque>
#include <string>

namespace xp {

struct EarlyStoppingOptions {
  bool maximize = false;
  int64_t patience = 5;
  double min_delta = 0.0;
  int64_t start_epoch = 0;
  int64_t window = 1;
};

class EarlyStopping {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options) : options_(options) {}

  // Feeds the metric of `epoch`; returns true when training should stop.
  bool update(int64_t epoch, double value);
  bool triggered() const { return triggered_; }
  double best() const { return best_; }
  int64_t best_epoch() const { return best_epoch_; }
  int64_t bad_epochs() const { return bad_epochs_; }

  // For checkpoints, so a resumed run stops where the uninterrupted one would.
  std::string save() const;
  void load(const std::string& state);

 private:
  EarlyStoppingOptions options_;
  std::deque<double> recent_;
  bool has_best_ = false;
  double best_ = 0.0;
  int64_t best_epoch_ = -1;
  int64_t bad_epochs_ = 0;
  bool triggered_ = false;
};

}  // namespace xp
