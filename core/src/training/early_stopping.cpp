#include "training/early_stopping.h"

#include <cmath>
#include <numeric>
#include <sstream>

namespace xp {

bool EarlyStopping::update(int64_t epoch, double value) {
  if (triggered_) return true;
  if (!std::isfinite(value)) value = options_.maximize ? -INFINITY : INFINITY;
  recent_.push_back(value);
  while (static_cast<int64_t>(recent_.size()) > options_.window) recent_.pop_front();
  if (epoch < options_.start_epoch) return false;
  const double smoothed = std::accumulate(recent_.begin(), recent_.end(), 0.0) / static_cast<double>(recent_.size());
  const bool improved = !has_best_ || (options_.maximize ? smoothed > best_ + options_.min_delta
                                                         : smoothed < best_ - options_.min_delta);
  if (improved) {
    has_best_ = true;
    best_ = smoothed;
    best_epoch_ = epoch;
    bad_epochs_ = 0;
  } else if (++bad_epochs_ >= options_.patience) {
    triggered_ = true;
  }
  return triggered_;
}

std::string EarlyStopping::save() const {
  std::ostringstream os;
  os.precision(17);
  os << has_best_ << ' ' << best_ << ' ' << best_epoch_ << ' ' << bad_epochs_ << ' ' << triggered_ << ' '
     << recent_.size();
  for (double v : recent_) os << ' ' << v;
  return os.str();
}

void EarlyStopping::load(const std::string& state) {
  // Tokens through std::stod so that "inf" (a diverged metric) reads back.
  std::istringstream is(state);
  std::string best, tok;
  size_t n = 0;
  is >> has_best_ >> best >> best_epoch_ >> bad_epochs_ >> triggered_ >> n;
  best_ = best.empty() ? 0.0 : std::stod(best);
  recent_.clear();
  for (size_t i = 0; i < n && (is >> tok); ++i) recent_.push_back(std::stod(tok));
}

}  // namespace xp
