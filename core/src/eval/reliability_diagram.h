#pragma once
// The data of a reliability (calibration) diagram: predictions sorted into equal-width probability
// bins, each bin's mean predicted probability against how often the prediction came true. A
// calibrated model lies on the diagonal. Accumulated batch by batch (no outputs are kept), and
// recorded as a few summary values per bin so the HTML report can draw it from the registry alone.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace xp {

class ReliabilityDiagram {
 public:
  explicit ReliabilityDiagram(int64_t bins = 10);

  // Binary (logits [N] or [N, 1, ...], targets in {0, 1}): bins of the positive class's
  // probability against the observed positive rate; entries whose target is not 0 or 1 (ignored
  // pixels) are skipped. Multi-class (logits [N, K] or [N, K, H, W], class-index targets): bins of
  // the top class's probability against accuracy; targets outside [0, K) are skipped.
  void add(const torch::Tensor& logits, const torch::Tensor& targets);

  // Per bin that received entries: "<prefix>_reliability_<b>_conf" (mean probability), "_freq"
  // (observed rate) and "_share" (the bin's fraction of all entries), b = 0 .. bins-1.
  std::map<std::string, double> values(const std::string& prefix) const;

  int64_t bins() const { return static_cast<int64_t>(count_.size()); }
  double entries() const;

 private:
  std::vector<double> count_, probability_, hits_;
};

}  // namespace xp
