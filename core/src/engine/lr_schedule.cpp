#include "engine/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace xp::engine {

namespace {
constexpr double kPi = 3.14159265358979323846;
double cosine_anneal(double start, double end, double pct) { return end + (start - end) / 2.0 * (1.0 + std::cos(kPi * pct)); }
}  // namespace

LrSchedule::LrSchedule(ScheduleOptions options, int64_t steps_per_epoch, int64_t total_steps)
    : o_(std::move(options)), steps_per_epoch_(std::max<int64_t>(1, steps_per_epoch)),
      total_steps_(std::max<int64_t>(1, total_steps)) {
  warmup_steps_ = o_.name == "onecycle" ? 0 : static_cast<int64_t>(std::llround(o_.warmup_epochs * steps_per_epoch_));
  static const char* known[] = {"constant", "step", "multistep", "cosine", "warmup_cosine", "onecycle"};
  if (std::none_of(std::begin(known), std::end(known), [&](const char* k) { return o_.name == k; }))
    throw std::invalid_argument("unknown schedule '" + o_.name + "'");
}

double LrSchedule::lr(int64_t step, double base_lr) const {
  if (step < warmup_steps_) return base_lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps_);
  const double epoch = static_cast<double>(step) / static_cast<double>(steps_per_epoch_);
  if (o_.name == "constant") return base_lr;
  if (o_.name == "step") {
    if (o_.step_epochs <= 0) return base_lr;
    // A small epsilon so that step == k * steps_per_epoch counts as epoch k despite rounding.
    return base_lr * std::pow(o_.gamma, std::floor(epoch / o_.step_epochs + 1e-9));
  }
  if (o_.name == "multistep") {
    int passed = 0;
    for (double m : o_.milestones) passed += epoch + 1e-9 >= m ? 1 : 0;
    return base_lr * std::pow(o_.gamma, passed);
  }
  if (o_.name == "cosine" || o_.name == "warmup_cosine") {
    const double span = static_cast<double>(std::max<int64_t>(1, total_steps_ - warmup_steps_));
    const double t = std::min(1.0, static_cast<double>(step - warmup_steps_) / span);
    return cosine_anneal(base_lr, o_.min_lr, t);
  }
  // onecycle, as torch.optim.lr_scheduler.OneCycleLR (two phases, cosine annealing).
  const double max_lr = o_.max_lr > 0 ? o_.max_lr : base_lr;
  const double initial = max_lr / o_.div_factor, final_lr = initial / o_.final_div_factor;
  const double up_end = o_.pct_start * static_cast<double>(total_steps_) - 1.0;
  const double down_end = static_cast<double>(total_steps_) - 1.0;
  const double s = static_cast<double>(std::min(step, total_steps_ - 1));
  if (s <= up_end) return cosine_anneal(initial, max_lr, up_end > 0 ? s / up_end : 1.0);
  return cosine_anneal(max_lr, final_lr, down_end > up_end ? (s - up_end) / (down_end - up_end) : 1.0);
}

}  // namespace xp::engine
