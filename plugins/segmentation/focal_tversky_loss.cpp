// Focal Tversky loss (Abraham & Khan 2019): the Tversky loss raised to gamma; gamma < 1 keeps the
// gradient large when the index is already high, which helps on small objects.
#include "tversky_common.h"

namespace xp::seg {
namespace {

class FocalTverskyLoss : public BinarySegLoss {
 public:
  static Schema schema() {
    Schema s("Focal Tversky loss (1 - TI)^gamma on sigmoid probabilities");
    add_tversky_options(s);
    s.add_float("gamma", 0.75, "exponent on the Tversky loss (Abraham & Khan use 1/gamma = 4/3)").range(0.1, 10.0);
    return add_common(s);
  }
  explicit FocalTverskyLoss(const Params& p)
      : BinarySegLoss(p, "focal_tversky"), options_(p), gamma_(p.get_float("gamma")) {}

  torch::Tensor compute(const torch::Tensor& logits, const PreparedTarget& t) override {
    // pow has an infinite slope at 0 for gamma < 1: a perfect prediction must not give NaN.
    return tversky_loss(logits, t, options_).clamp_min(1e-6).pow(gamma_).mean();
  }

 private:
  TverskyOptions options_;
  double gamma_;
};

}  // namespace
}  // namespace xp::seg

XP_REGISTER_LOSS("focal_tversky", xp::seg::FocalTverskyLoss);
