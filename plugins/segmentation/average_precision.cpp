#include "average_precision.h"

#include <algorithm>

namespace xp::seg {

ScoreHistogram::ScoreHistogram(int64_t bins) : pos_(static_cast<size_t>(std::max<int64_t>(bins, 1)), 0),
                                                neg_(pos_.size(), 0) {}

void ScoreHistogram::add(double score, bool positive) {
  const int64_t n = bins();
  int64_t bin = static_cast<int64_t>(score * static_cast<double>(n));
  bin = std::clamp<int64_t>(bin, 0, n - 1);
  if (positive) {
    ++pos_[bin];
    ++positives_;
  } else {
    ++neg_[bin];
    ++negatives_;
  }
}

void ScoreHistogram::clear() {
  std::fill(pos_.begin(), pos_.end(), 0);
  std::fill(neg_.begin(), neg_.end(), 0);
  positives_ = negatives_ = 0;
}

double ScoreHistogram::average_precision(double negative_scale) const {
  if (positives_ == 0) return 0.0;
  double tp = 0.0, fp = 0.0, ap = 0.0;
  for (int64_t b = bins() - 1; b >= 0; --b) {
    tp += static_cast<double>(pos_[b]);
    fp += negative_scale * static_cast<double>(neg_[b]);
    if (pos_[b] > 0) ap += static_cast<double>(pos_[b]) / static_cast<double>(positives_) * tp / (tp + fp);
  }
  return ap;
}

}  // namespace xp::seg
