#pragma once
// The training loss of an epoch, read without stalling the device. On CUDA, reading the loss after
// every batch would make the CPU wait for the GPU each step and leave it idle while the next step
// is queued: the loss is summed on the device and read every `read_every` batches, so a NaN is
// caught within that window. On CPU it is read every batch.

#include <cstdint>
#include <optional>
#include <string>

#include <torch/torch.h>

#include "engine/train_state.h"

namespace xp::engine {

class EpochLoss {
 public:
  EpochLoss(TrainState& state, bool lazy, int64_t first_batch, int64_t read_every = 25)
      : state_(state), progress_(state.progress), lazy_(lazy), read_every_(read_every), pending_from_(first_batch + 1) {}

  // Adds batch `batch` (1-based) of `size` samples, before its backward pass. On CPU the value is
  // read now: returns it when it is not finite.
  std::optional<double> add(const torch::Tensor& loss, int64_t size, int64_t batch);
  // After the batch's backward (and step): on CUDA, reads the pending sum every `read_every`
  // batches and at the epoch's last one; returns it when it is not finite.
  std::optional<double> after_batch(int64_t batch, bool last_batch) {
    if (lazy_ && (batch % read_every_ == 0 || last_batch)) return settle(batch);
    return std::nullopt;
  }
  // Reads what is pending (before a stop or at the end of the epoch).
  std::optional<double> settle(int64_t batch);

  double mean() const {
    return progress_.loss_count ? progress_.loss_sum / static_cast<double>(progress_.loss_count) : 0.0;
  }
  // The batches a diverged value covers, e.g. "12" or "26-50".
  const std::string& diverged_batches() const { return diverged_batches_; }

 private:
  void record(double sum, int64_t count);

  TrainState& state_;
  LoopState& progress_;
  bool lazy_;
  int64_t read_every_;
  torch::Tensor pending_;
  int64_t pending_count_ = 0, pending_from_ = 1;
  std::string diverged_batches_;
};

}  // namespace xp::engine
