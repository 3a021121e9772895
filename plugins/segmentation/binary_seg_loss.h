#pragma once
// Base of the binary segmentation losses: prepares the target (ignore_index, boundary band), checks
// shapes, and adds deep supervision: when the model returns aux outputs named ds_*, the loss of
// their mean is added with weight `ds_weight`. Subclasses only compute the loss of one logit map.

#include <string>

#include "seg_target.h"
#include "xp/plugin.h"

namespace xp::seg {

class BinarySegLoss : public Loss {
 public:
  // Declares the options every binary loss shares (target options and ds_weight).
  static Schema& add_common(Schema& schema);

  BinarySegLoss(const Params& params, std::string name);
  torch::Tensor forward(const ModelOutput& output, const Batch& batch) override;

  // The loss of `logits` against a prepared target; pixels with weight 0 must not contribute,
  // and an all-zero weight must give a finite value with finite gradients.
  virtual torch::Tensor compute(const torch::Tensor& logits, const PreparedTarget& target) = 0;

 protected:
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  TargetOptions target_options_;
  double ds_weight_;
};

// `logits` resized (bilinear) to the target's H x W when a head has a lower resolution.
torch::Tensor resize_like(const torch::Tensor& logits, const torch::Tensor& target);

// sum(values * weight) / max(sum(weight), 1): the mean over the pixels that count.
torch::Tensor weighted_mean(const torch::Tensor& values, const torch::Tensor& weight);

// Elementwise binary cross-entropy with logits, numerically stable, soft targets allowed;
// `pos_weight` multiplies the positive term as in torch's BCEWithLogitsLoss.
torch::Tensor bce_with_logits(const torch::Tensor& logits, const torch::Tensor& target, double pos_weight = 1.0);

}  // namespace xp::seg
