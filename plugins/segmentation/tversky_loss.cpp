// Tversky loss: Dice with separate weights on misses and false alarms.
#include "tversky_common.h"

namespace xp::seg {
namespace {

class TverskyLoss : public BinarySegLoss {
 public:
  static Schema schema() {
    Schema s("Tversky loss 1 - (TP + eps) / (TP + alpha FN + beta FP + eps) on sigmoid probabilities");
    add_tversky_options(s);
    return add_common(s);
  }
  explicit TverskyLoss(const Params& p) : BinarySegLoss(p, "tversky"), options_(p) {}

  torch::Tensor compute(const torch::Tensor& logits, const PreparedTarget& t) override {
    return tversky_loss(logits, t, options_).mean();
  }

 private:
  TverskyOptions options_;
};

}  // namespace
}  // namespace xp::seg

XP_REGISTER_LOSS("tversky", xp::seg::TverskyLoss);
