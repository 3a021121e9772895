#pragma once
// The Tversky index shared by `tversky` and `focal_tversky` (Salehi et al. 2017).
#include "binary_seg_loss.h"

namespace xp::seg {

// Declares alpha (weight on false negatives), beta (weight on false positives), smooth, per_image.
inline Schema& add_tversky_options(Schema& s) {
  return s.add_float("alpha", 0.7, "weight on false negatives (alpha > beta favours recall)").range(0.0, 1e3)
      .add_float("beta", 0.3, "weight on false positives").range(0.0, 1e3)
      .add_float("smooth", 1.0, "eps in (TP + eps) / (TP + alpha FN + beta FP + eps)").range(1e-7, 1e4)
      .add_bool("per_image", false, "index per image then mean (false: one index over the batch)");
}

struct TverskyOptions {
  double alpha, beta, smooth;
  bool per_image;
  explicit TverskyOptions(const Params& p)
      : alpha(p.get_float("alpha")), beta(p.get_float("beta")), smooth(p.get_float("smooth")),
        per_image(p.get_bool("per_image")) {}
};

// 1 - Tversky index, one value per image ([B]) or one for the batch ([1]).
inline torch::Tensor tversky_loss(const torch::Tensor& logits, const PreparedTarget& t, const TverskyOptions& o) {
  auto p = torch::sigmoid(logits) * t.weight;
  auto y = t.target * t.weight;
  std::vector<int64_t> dims = o.per_image ? std::vector<int64_t>{1, 2, 3} : std::vector<int64_t>{0, 1, 2, 3};
  auto tp = (p * y).sum(dims);
  auto fn = ((1.0 - p) * y).sum(dims);
  auto fp = (p * (t.weight - y)).sum(dims);
  return (1.0 - (tp + o.smooth) / (tp + o.alpha * fn + o.beta * fp + o.smooth)).reshape({-1});
}

}  // namespace xp::seg
