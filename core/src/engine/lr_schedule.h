#pragma once
// Learning-rate schedules as pure functions of the optimizer step, so a resumed run needs nothing
// but the step count to continue exactly where it stopped.

#include <cstdint>

#include "engine/train_options.h"

namespace xp::engine {

class LrSchedule {
 public:
  // steps_per_epoch: optimizer steps per epoch; total_steps: of the whole run.
  LrSchedule(ScheduleOptions options, int64_t steps_per_epoch, int64_t total_steps);
  // The learning rate of optimizer step `step` (0-based) for a base rate `base_lr`.
  double lr(int64_t step, double base_lr) const;
  int64_t total_steps() const { return total_steps_; }

 private:
  ScheduleOptions o_;
  int64_t steps_per_epoch_, total_steps_, warmup_steps_;
};

}  // namespace xp::engine
