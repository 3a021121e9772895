#pragma once
// train.distributed.sync_batchnorm: batch normalisation over the global batch (every rank's
// samples) instead of each rank's part, as PyTorch's SyncBatchNorm does.
//
// LibTorch's C++ API has no SyncBatchNorm, and xp's models hold their torch::nn::BatchNorm layers
// as members or inside Sequentials, where they cannot be swapped for another module. What every
// one of them calls is the dispatcher's aten::batch_norm (so do functional batch_norm and
// TorchScript models): while a SyncBatchNorm object lives, xp's kernel takes that op over for
// autograd-tracked CPU and CUDA tensors. In training (and with grad mode on) it
//   - sums per channel x - c, (x - c)^2 and the sample count on this rank, c being the running
//     mean (identical on every rank; the shift keeps the sum of squares from cancelling);
//   - all-reduces the three with an autograd function whose backward all-reduces the gradient, so
//     that each rank's input receives the gradient of every rank's loss through the shared statistics;
//   - normalises with the global mean and biased variance, composed of differentiable ops, and
//     updates the running statistics with the global mean and unbiased variance.
// Everything else (evaluation, no_grad, inference mode) goes to torch's own batch_norm unchanged.

#include <cstdint>
#include <memory>

#include <torch/types.h>

#include "distributed/communicator.h"

namespace torch {
class Library;
}

namespace xp::distributed {

class SyncBatchNorm {
 public:
  // Registers the kernel; at most one instance at a time (a second throws std::logic_error).
  explicit SyncBatchNorm(std::shared_ptr<Communicator> comm);
  ~SyncBatchNorm();  // unregisters: torch's batch_norm again
  SyncBatchNorm(const SyncBatchNorm&) = delete;
  SyncBatchNorm& operator=(const SyncBatchNorm&) = delete;

  // Batch-norm layers normalised over all ranks since construction (forward passes; for logs and tests).
  int64_t synchronised_calls() const;

 private:
  std::vector<std::unique_ptr<torch::Library>> registrations_;
};

}  // namespace xp::distributed
