#pragma once
// One training step: forward under autocast, loss, backward (scaled for fp16, divided for
// accumulation), and — once per `accumulate` batches — the optimizer update: learning rate from
// the schedule, unscale and overflow check, gradient clipping, the step, EMA. It owns what the
// update needs (parameters, optimizer, schedule, scaler, EMA); the fit loop decides when to call.

#include <cstdint>
#include <memory>

#include <torch/torch.h>

#include "engine/checkpoint.h"
#include "engine/lr_schedule.h"
#include "engine/mixed_precision.h"
#include "engine/param_groups.h"
#include "engine/runtime.h"
#include "engine/train_options.h"
#include "training/weight_ema.h"
#include "xp/loss.h"
#include "xp/model.h"

namespace xp::distributed {
class DistributedContext;
}

namespace xp::engine {

class TrainStep {
 public:
  // Places model and loss on the runtime's device and builds the optimizer over both.
  TrainStep(Model& model, Loss& loss, const TrainOptions& options, const Runtime& runtime, int64_t steps_per_epoch);

  // Forward and loss of one batch under autocast (the loss as computed, graph attached).
  torch::Tensor forward(const Batch& batch);
  // Backward of that loss: divided for accumulation, scaled for fp16. `will_step`: an optimizer
  // step follows this backward (data-parallel runs all-reduce gradients only then).
  void backward(torch::Tensor loss, bool will_step = true);
  // Data-parallel training: gradients averaged across ranks, overflow decisions agreed.
  void set_distributed(distributed::DistributedContext* dist) { dist_ = dist; }
  Model& model() { return model_; }
  // The update after the accumulated backward passes; advances `step` (also when an fp16 overflow
  // skips the update, as torch.cuda.amp does).
  void optimizer_step(int64_t epoch, int64_t& step);

  // The learning rate of optimizer step `step` in `epoch`: the schedule over the stage's base rate.
  double lr(int64_t epoch, int64_t step) const { return schedule_->lr(step, base_lr(epoch)); }
  double base_lr(int64_t epoch) const;

  NamedParameters& params() { return params_; }
  DynamicLossScaler* scaler() { return scaler_.get(); }
  CheckpointParts checkpoint_parts();

  // Swaps the EMA weights in for evaluation and checkpoints (when train.ema.evaluate) and back.
  class EmaWeights {
   public:
    explicit EmaWeights(TrainStep& step);
    ~EmaWeights();
    EmaWeights(const EmaWeights&) = delete;
    EmaWeights& operator=(const EmaWeights&) = delete;

   private:
    TrainStep& step_;
  };
  void swap_ema();

 private:
  Model& model_;
  Loss& loss_;
  const TrainOptions& o_;
  c10::ScalarType amp_dtype_;
  c10::DeviceType amp_device_;
  NamedParameters params_;
  OptimizerWithGroups optimizer_;
  std::unique_ptr<LrSchedule> schedule_;
  std::unique_ptr<DynamicLossScaler> scaler_;  // fp16 only
  std::unique_ptr<WeightEma> ema_;
  distributed::DistributedContext* dist_ = nullptr;
};

}  // namespace xp::engine
