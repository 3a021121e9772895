#pragma once
// Average precision over millions of pixels in bounded memory: scores are counted in a histogram of
// `bins` equal-width bins on [0, 1] per class, and AP is computed with each bin as one threshold
// (sklearn's step-wise definition, sum over recall steps of precision). Exact when no two scores of
// different value share a bin; otherwise scores within 1/bins are treated as tied.

#include <cstdint>
#include <vector>

namespace xp::seg {

class ScoreHistogram {
 public:
  explicit ScoreHistogram(int64_t bins = 10000);

  void add(double score, bool positive);
  void clear();

  // AP with every negative count multiplied by `negative_scale`. A scale of k/N is the expected
  // outcome of keeping k of the N negatives uniformly at random, without the sampling noise.
  double average_precision(double negative_scale = 1.0) const;

  int64_t positives() const { return positives_; }
  int64_t negatives() const { return negatives_; }
  int64_t bins() const { return static_cast<int64_t>(pos_.size()); }
  // Distributed evaluation: `sum` replaces counts by their sum over the ranks.
  template <class SumFn>
  void reduce(SumFn&& sum) {
    sum(pos_.data(), pos_.size());
    sum(neg_.data(), neg_.size());
    int64_t totals[2] = {positives_, negatives_};
    sum(totals, 2);
    positives_ = totals[0], negatives_ = totals[1];
  }

 private:
  std::vector<int64_t> pos_, neg_;
  int64_t positives_ = 0, negatives_ = 0;
};

}  // namespace xp::seg
