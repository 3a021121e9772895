// Soft Dice loss on sigmoid probabilities.
#include "binary_seg_loss.h"

namespace xp::seg {
namespace {

class DiceLoss : public BinarySegLoss {
 public:
  static Schema schema() {
    Schema s("Soft Dice loss 1 - (2 sum(p t) + smooth) / (sum(p) + sum(t) + smooth) over non-ignored pixels");
    s.add_float("smooth", 1.0, "added to numerator and denominator; keeps empty tiles finite").range(1e-7, 1e4)
        .add_bool("per_image", false, "Dice per image then mean (false: one Dice over the whole batch)");
    return add_common(s);
  }
  explicit DiceLoss(const Params& p)
      : BinarySegLoss(p, "dice"), smooth_(p.get_float("smooth")), per_image_(p.get_bool("per_image")) {}

  torch::Tensor compute(const torch::Tensor& logits, const PreparedTarget& t) override {
    auto p = torch::sigmoid(logits) * t.weight;
    auto y = t.target * t.weight;
    std::vector<int64_t> dims = per_image_ ? std::vector<int64_t>{1, 2, 3} : std::vector<int64_t>{0, 1, 2, 3};
    auto inter = (p * y).sum(dims);
    auto denom = p.sum(dims) + y.sum(dims);
    return (1.0 - (2.0 * inter + smooth_) / (denom + smooth_)).mean();
  }

 private:
  double smooth_;
  bool per_image_;
};

}  // namespace
}  // namespace xp::seg

XP_REGISTER_LOSS("dice", xp::seg::DiceLoss);
