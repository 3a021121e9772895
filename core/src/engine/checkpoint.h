#pragma once
// Checkpoints hold everything a resumed run needs to continue bit-for-bit on CPU: model (and loss)
// parameters and buffers, optimizer state, the loop position, the best monitored value, the EMA
// weights and torch's CPU generator state.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "engine/mixed_precision.h"
#include "training/weight_ema.h"

namespace xp::engine {

struct LoopState {
  int64_t epoch = 0;          // 0-based epoch in progress (or the next one when batches_done == 0)
  int64_t batches_done = 0;   // batches of `epoch` already trained (an interrupted epoch)
  int64_t step = 0;           // optimizer steps so far
  double loss_sum = 0.0;      // train loss sum and sample count of the unfinished epoch
  int64_t loss_count = 0;
  std::optional<double> best; // best monitored value so far
  int64_t best_epoch = 0;     // 1-based
  int64_t world_size = 1;     // data-parallel ranks that trained it (batches_done counts one rank's batches)
};

struct CheckpointParts {
  torch::nn::Module* model = nullptr;
  torch::nn::Module* loss = nullptr;  // may have no parameters
  torch::optim::Optimizer* optimizer = nullptr;
  WeightEma* ema = nullptr;           // may be null
  DynamicLossScaler* scaler = nullptr;  // fp16 only
};

// Writes atomically (temporary file, then rename) so an interrupt never leaves a torn file.
void save_checkpoint(const std::filesystem::path& file, const CheckpointParts& parts, const LoopState& state);
// Restores in place; `map_location` is the training device. Returns the loop state.
LoopState load_checkpoint(const std::filesystem::path& file, const CheckpointParts& parts,
                          const torch::Device& map_location);
// The same from a checkpoint file's bytes (a data-parallel rank that got them from rank 0);
// `file` only names it in errors.
LoopState load_checkpoint_bytes(const std::string& bytes, const std::filesystem::path& file,
                                const CheckpointParts& parts, const torch::Device& map_location);

// Restores only the model's parameters and buffers (evaluating a saved `best`).
void load_model_weights(const std::filesystem::path& file, torch::nn::Module& model, const torch::Device& map_location);

}  // namespace xp::engine
