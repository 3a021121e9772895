// Class-balanced BCE (Cui et al. 2019): each class is weighted by the inverse of its effective
// number of samples (1 - beta^n) / (1 - beta), weights normalised to sum to the number of classes.
#include <cmath>

#include "binary_seg_loss.h"

namespace xp::seg {
namespace {

class ClassBalancedBceLoss : public BinarySegLoss {
 public:
  static Schema schema() {
    Schema s("Class-balanced BCE: classes weighted by 1 / effective number of pixels (Cui et al. 2019)");
    s.add_float("beta", 0.9999, "effective-number beta in [0, 1); larger = closer to inverse frequency")
        .range(0.0, 0.999999999)
        .add_floats("counts", {}, "[negative, positive] pixel counts of the training set; [] = count each batch")
        .min(0.0);
    return add_common(s);
  }
  explicit ClassBalancedBceLoss(const Params& p)
      : BinarySegLoss(p, "class_balanced_bce"), beta_(p.get_float("beta")), counts_(p.get_floats("counts")) {
    if (!counts_.empty() && counts_.size() != 2)
      throw ConfigError("class_balanced_bce: counts must be [negative, positive], got " +
                            std::to_string(counts_.size()) + " values",
                        p.where());
  }

  torch::Tensor compute(const torch::Tensor& logits, const PreparedTarget& t) override {
    double n_neg, n_pos;
    if (counts_.empty()) {
      n_pos = (t.target * t.weight).sum().item<double>();
      n_neg = t.weight.sum().item<double>() - n_pos;
    } else {
      n_neg = counts_[0];
      n_pos = counts_[1];
    }
    // A class absent from the batch gets the weight of a single pixel: it has no pixels to weigh.
    double w_neg = 1.0 / effective_number(std::max(n_neg, 1.0));
    double w_pos = 1.0 / effective_number(std::max(n_pos, 1.0));
    double norm = 2.0 / (w_neg + w_pos);
    w_neg *= norm;
    w_pos *= norm;
    auto pixel_weight = w_pos * t.target + w_neg * (1.0 - t.target);
    return weighted_mean(bce_with_logits(logits, t.target) * pixel_weight, t.weight);
  }

 private:
  double effective_number(double n) const {
    if (beta_ <= 0.0) return 1.0;
    return -std::expm1(n * std::log(beta_)) / (1.0 - beta_);
  }
  double beta_;
  std::vector<double> counts_;
};

}  // namespace
}  // namespace xp::seg

XP_REGISTER_LOSS("class_balanced_bce", xp::seg::ClassBalancedBceLoss);
