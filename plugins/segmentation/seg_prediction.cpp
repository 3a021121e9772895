#include "seg_prediction.h"

#include "seg_target.h"

namespace xp::seg {

Schema& add_metric_options(Schema& s) {
  return s.add_float("threshold", 0.5, "a pixel is predicted positive when sigmoid(logit) > threshold").range(0.0, 1.0)
      .add_int("ignore_index", 255, "target value of pixels left out").range(-1, 65535);
}

PixelView pixel_view(const ModelOutput& output, const Batch& batch, int64_t ignore_index, const std::string& who) {
  check_binary_logits(output.logits, batch.target, who);
  torch::NoGradGuard no_grad;
  PixelView v;
  v.probability = torch::sigmoid(output.logits.detach().to(torch::kCPU, torch::kFloat)).select(1, 0).contiguous();
  auto target = batch.target.detach().to(torch::kCPU, torch::kFloat).select(1, 0);
  v.valid = (target != static_cast<double>(ignore_index)).contiguous();
  v.positive = target.ge(0.5).logical_and(v.valid).contiguous();
  return v;
}

}  // namespace xp::seg
