#pragma once
// Data-parallel training for the fit loop, in one object. Built once per run from the launcher's
// environment; in a plain single-process run it is inactive and every call is a cheap no-op, so
// the loop calls it unconditionally.
//
// Where each call goes in a training loop (see docs/distributed.md for the full picture):
//
//   auto dist = DistributedContext::from_environment(options.distributed, device);   // run start
//   ... build the model, move it to the device, load a checkpoint (every rank) ...
//   dist->prepare_model(model);                  // after the model is final, before the optimizer steps
//   for epoch:
//     order = dist->shard_training(sampler->indices(ctx{seed, epoch, batch_size}), batch_size);
//     for each micro-step i (accumulate = A):
//       const bool steps = (i + 1) % A == 0 || last batch;
//       dist->before_forward();                  // broadcasts buffers when asked to
//       loss = criterion(model(x), y) / A;
//       dist->before_backward(steps);            // no all-reduce on the micro-steps that do not step
//       loss.backward();
//       if (steps) {
//         dist->finish_gradients();              // waits for the all-reduces: .grad = mean over ranks
//         scaler.unscale / clip / optimizer.step();   // identical on every rank
//       }
//   evaluation: order = dist->shard_evaluation(all indices) when dist->can_shard_evaluation(metrics),
//     update the metrics on that part, then dist->reduce_metrics(metrics) and
//     dist->reduce_sums({loss_sum, count}) before compute(); otherwise evaluate the whole split on
//     every rank (or on rank 0) unsharded.
//   rank 0 alone: registry, checkpoints, TensorBoard, console (dist->is_rank0()).
//   stop decisions (early stopping, Ctrl-C on one rank): dist->any(flag) so all ranks stop together.

#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/types.h>

#include "distributed/communicator.h"
#include "distributed/distributed_options.h"
#include "distributed/gradient_reducer.h"
#include "distributed/sync_batch_norm.h"
#include "distributed/world.h"
#include "xp/metric.h"

namespace xp::distributed {

class DistributedContext {
 public:
  // Reads the world from the environment; with WORLD_SIZE > 1 rendezvous with the other ranks
  // (blocking up to options.timeout_s). `device` is where the model trains.
  static std::unique_ptr<DistributedContext> from_environment(const DistributedOptions& options, torch::Device device);
  // For tests and embedders: an explicit world.
  static std::unique_ptr<DistributedContext> create(const World& world, const DistributedOptions& options,
                                                    torch::Device device);
  ~DistributedContext();

  bool active() const { return static_cast<bool>(comm_); }  // world size > 1
  const World& world() const { return world_; }
  int rank() const { return world_.rank; }
  int world_size() const { return world_.world_size; }
  bool is_rank0() const { return world_.rank == 0; }
  std::string backend() const;                     // "gloo", "nccl", or "none"
  std::vector<std::string> hosts() const;          // host of each rank, for the run record
  // The hosts for the run record: "node07 (ranks 0-3), node08 (ranks 4-7)".
  std::string hosts_summary() const;

  // The CUDA device this rank should train on when the configured device is CUDA: cuda:LOCAL_RANK
  // (one GPU per local rank), or the configured device unchanged.
  static torch::Device device_for_local_rank(torch::Device configured, const World& world);

  // Broadcasts rank 0's parameters and buffers, then hooks the trainable parameters (requires_grad
  // at this moment) into a GradientReducer. Call again after freezing/unfreezing parameters (a new
  // stage); `broadcast = false` then skips the copy. With sync_batchnorm, batch norm in training
  // is computed over all ranks from here on (sync_batch_norm.h) until this context ends.
  void prepare_model(torch::nn::Module& model, bool broadcast = true);
  void before_forward();
  void before_backward(bool will_step);
  void finish_gradients();

  std::vector<int64_t> shard_training(const std::vector<int64_t>& order, int64_t batch_size) const;
  std::vector<int64_t> shard_evaluation(const std::vector<int64_t>& order) const;

  // True when every metric can combine its state across ranks (Metric::reduce_state).
  static bool can_shard_evaluation(const std::vector<Metric*>& metrics);
  // Replaces each metric's state by the whole split's. Returns false (and changes nothing) when a
  // metric cannot (its reduce_state returns false); then evaluation must not be sharded.
  bool reduce_metrics(const std::vector<Metric*>& metrics);
  // Sums of plain numbers (loss sum and sample count of a split, timings): summed in place.
  void reduce_sums(std::vector<double>& values);
  // True on every rank when `flag` is true on any rank (stop requests, fp16 overflow, NaN loss).
  bool any(bool flag);
  void broadcast(torch::Tensor tensor, int root = 0);
  // Rank `root`'s bytes to every rank (a checkpoint file). `ok = false` on the root says it has
  // none (it failed to read them); then every other rank throws DistributedError saying so.
  void broadcast_bytes(std::string& bytes, bool ok = true, int root = 0);
  void barrier();

  const ReducerStats* reducer_stats() const { return reducer_ ? &reducer_->stats() : nullptr; }
  const SyncBatchNorm* sync_batch_norm() const { return sync_bn_.get(); }
  std::shared_ptr<Communicator> communicator() const { return comm_; }

 private:
  DistributedContext(World world, DistributedOptions options, torch::Device device);
  torch::Device comm_device() const;  // where collectives' tensors live: the GPU for nccl, else the CPU

  World world_;
  DistributedOptions options_;
  torch::Device device_;
  std::shared_ptr<Communicator> comm_;
  std::unique_ptr<GradientReducer> reducer_;
  std::vector<torch::Tensor> buffers_;
  std::unique_ptr<SyncBatchNorm> sync_bn_;
};

}  // namespace xp::distributed
