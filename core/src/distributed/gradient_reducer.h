#pragma once
// Averages the gradients of the trainable parameters across ranks, overlapped with backward.
//
// The parameters are grouped into buckets of about `bucket_bytes`, in reverse registration order
// (roughly the order backward produces their gradients). A post-hook on each parameter's
// gradient accumulator fires once `.grad` holds this backward's contribution; it copies `.grad`
// into its bucket, and a bucket whose parameters are all ready starts an asynchronous all-reduce
// while backward goes on. Buckets start in index order on every rank (c10d's collectives must be
// issued in the same order everywhere). finish() starts what is left, waits, and writes the
// averages back into `.grad`.
//
// Accumulation: prepare(sync = false) before the backward of a micro-step that does not step the
// optimizer makes the hooks do nothing, so `.grad` keeps accumulating locally; the last micro-step
// (prepare(true)) reduces the accumulated gradient once, like DDP's no_sync().

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <torch/types.h>

#include "distributed/communicator.h"

namespace torch::autograd {
struct Node;
}

namespace xp::distributed {

struct ReducerStats {
  int64_t reductions = 0;   // finish() calls that reduced
  int64_t buckets = 0;
  double wait_seconds = 0;  // time finish() spent waiting for all-reduces (not overlapped)
};

class GradientReducer {
 public:
  // `params`: the parameters to keep in sync (those with requires_grad); `names` for messages.
  // find_unused: a parameter without a gradient in a synced step is reduced as its current `.grad`
  // (zeros when it has none) instead of being an error.
  GradientReducer(std::vector<torch::Tensor> params, std::vector<std::string> names,
                  std::shared_ptr<Communicator> comm, int64_t bucket_bytes, bool find_unused);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Before each backward: sync = whether the optimizer steps after it.
  void prepare(bool sync);
  // After the backward of a synced step, before unscaling/clipping/the optimizer step. Throws
  // DistributedError when a collective fails. A no-op after prepare(false).
  void finish();

  size_t bucket_count() const { return buckets_.size(); }
  const ReducerStats& stats() const { return stats_; }

 private:
  struct Slot {
    size_t bucket = 0;
    int64_t offset = 0, numel = 0;
  };
  struct Bucket {
    torch::Tensor flat;
    std::vector<size_t> params;
    size_t pending = 0;
    bool started = false;
    PendingCollective work;
  };
  void on_gradient_ready(size_t index);
  void copy_into_bucket(size_t index);
  void start_ready_buckets();  // mutex held

  std::vector<torch::Tensor> params_;
  std::vector<std::string> names_;
  std::shared_ptr<Communicator> comm_;
  bool find_unused_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::vector<char> ready_;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;  // keep them (and the hooks) alive
  std::vector<uintptr_t> hook_keys_;
  std::mutex mutex_;
  bool sync_ = false, armed_ = false;
  size_t next_bucket_ = 0;
  std::string error_;
  ReducerStats stats_;
};

}  // namespace xp::distributed
