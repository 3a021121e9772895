#include "engine/epoch_loss.h"

#include <cmath>

namespace xp::engine {

void EpochLoss::record(double sum, int64_t count) {
  progress_.loss_sum += sum;
  progress_.loss_count += count;
  state_.unlogged_loss_sum += sum;
  state_.unlogged_loss_count += count;
}

std::optional<double> EpochLoss::add(const torch::Tensor& loss, int64_t size, int64_t batch) {
  if (!lazy_) {
    const double value = loss.item<double>();
    if (!std::isfinite(value)) {
      diverged_batches_ = std::to_string(batch);
      return value;
    }
    record(value * static_cast<double>(size), size);
    return std::nullopt;
  }
  torch::Tensor weighted = loss.detach().to(torch::kDouble) * static_cast<double>(size);
  pending_ = pending_.defined() ? pending_ + weighted : weighted;
  pending_count_ += size;
  return std::nullopt;
}

std::optional<double> EpochLoss::settle(int64_t batch) {
  if (!pending_.defined()) return std::nullopt;
  const double sum = pending_.item<double>();
  pending_ = torch::Tensor();
  if (!std::isfinite(sum)) {
    diverged_batches_ = std::to_string(pending_from_) + (batch != pending_from_ ? "-" + std::to_string(batch) : "");
    return sum;
  }
  record(sum, pending_count_);
  pending_count_ = 0;
  pending_from_ = batch + 1;
  return std::nullopt;
}

}  // namespace xp::engine
