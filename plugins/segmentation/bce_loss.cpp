// Binary cross-entropy on logits, mean over the pixels that count.
#include "binary_seg_loss.h"

namespace xp::seg {
namespace {

class BceLoss : public BinarySegLoss {
 public:
  static Schema schema() {
    Schema s("Binary cross-entropy on logits (mean over non-ignored pixels)");
    s.add_float("pos_weight", 1.0, "weight of the positive term, e.g. #neg/#pos for rare objects").range(0.0, 1e6);
    return add_common(s);
  }
  explicit BceLoss(const Params& p) : BinarySegLoss(p, "bce"), pos_weight_(p.get_float("pos_weight")) {}

  torch::Tensor compute(const torch::Tensor& logits, const PreparedTarget& t) override {
    return weighted_mean(bce_with_logits(logits, t.target, pos_weight_), t.weight);
  }

 private:
  double pos_weight_;
};

}  // namespace
}  // namespace xp::seg

XP_REGISTER_LOSS("bce", xp::seg::BceLoss);
