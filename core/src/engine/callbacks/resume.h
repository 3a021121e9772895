#pragma once
// Resume (xp run --resume): continues a run from run_dir/checkpoints/last.pt and the epochs already
// in metrics.csv, before the first epoch. In a data-parallel run rank 0 reads both and sends them to
// the other ranks (they need not see the run folder), so every rank continues from the same
// weights, optimizer state, loop position and generator state. A checkpoint written by a different
// number of ranks is re-sharded: at an epoch boundary always; within an epoch when the global
// batches already trained divide evenly among the new ranks, otherwise it is a configuration
// error that says why and which world size resumes it.

#include <filesystem>

#include "engine/callback.h"
#include "engine/run_log.h"
#include "engine/train_step.h"

namespace xp::distributed {
class DistributedContext;
}

namespace xp::engine {

class ResumeCallback : public Callback {
 public:
  // `last` is the checkpoint rank 0 reads (ignored on the other ranks); `dist` may be null.
  ResumeCallback(std::filesystem::path last, TrainStep& step, const torch::Device& device, int64_t batch_size,
                 int64_t accumulate, RunLog& log, distributed::DistributedContext* dist);

  void on_fit_start(TrainState& state) override;

 private:
  std::filesystem::path last_;
  TrainStep& step_;
  torch::Device device_;
  int64_t batch_size_, accumulate_;
  RunLog& log_;
  distributed::DistributedContext* dist_;
};

// Maps the loop position of a checkpoint written by `progress.world_size` ranks onto `world_size`
// ranks (sets progress.world_size). `steps_per_epoch` is the new world's. Throws ConfigError when
// the position within an epoch cannot be expressed with the new number of ranks.
// Returns a note for the log ("" when nothing changed).
std::string reshard_progress(LoopState& progress, int64_t world_size, int64_t steps_per_epoch, int64_t accumulate,
                             int64_t batch_size);

}  // namespace xp::engine
