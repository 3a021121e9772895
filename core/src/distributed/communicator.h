#pragma once
// The collectives a data-parallel run needs, on LibTorch's c10d: rendezvous through a TCPStore that
// rank 0 serves at MASTER_ADDR:MASTER_PORT, then a ProcessGroupGloo (CPU tensors) or, where the
// LibTorch has CUDA, a ProcessGroupNCCL (CUDA tensors). No transport of xp's own.
//
// Every collective must be called by every rank in the same order (c10d's rule). A collective that
// does not complete within the timeout (a rank died or hangs) throws DistributedError naming this
// rank and host; a peer that died usually ends it at once (its sockets close).

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/csrc/distributed/c10d/Work.hpp>
#include <torch/types.h>

#include "distributed/world.h"

namespace xp::distributed {

// A collective failed or timed out: another rank died, hung, or the network broke.
class DistributedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One collective in flight. wait() rethrows its failure as DistributedError.
class PendingCollective {
 public:
  PendingCollective() = default;
  PendingCollective(c10::intrusive_ptr<c10d::Work> work, std::string what, std::string who);
  ~PendingCollective();
  PendingCollective(PendingCollective&&) noexcept;
  PendingCollective& operator=(PendingCollective&&) noexcept;
  bool valid() const;
  void wait();

 private:
  c10::intrusive_ptr<c10d::Work> work_;
  std::string what_, who_;
};

enum class Reduction { Sum, Max, Min };

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual const World& world() const = 0;
  virtual std::string backend() const = 0;  // "gloo" or "nccl"
  // Tensors on the backend's device (CPU for gloo, CUDA for nccl), contiguous, same shapes on every rank.
  virtual PendingCollective all_reduce_async(torch::Tensor tensor, Reduction op = Reduction::Sum) = 0;
  virtual PendingCollective broadcast_async(torch::Tensor tensor, int root = 0) = 0;
  virtual void barrier() = 0;
  // Every rank's host name, indexed by rank (exchanged through the store at rendezvous).
  virtual const std::vector<std::string>& hosts() const = 0;

  void all_reduce(torch::Tensor tensor, Reduction op = Reduction::Sum) { all_reduce_async(tensor, op).wait(); }
  void broadcast(torch::Tensor tensor, int root = 0) { broadcast_async(tensor, root).wait(); }
};

struct ConnectOptions {
  std::string backend = "auto";  // auto (nccl for a CUDA device where built, else gloo) | gloo | nccl
  bool cuda_device = false;      // the model trains on CUDA
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  int gloo_threads = 2;
};

// Whether this LibTorch build has NCCL (a CUDA LibTorch built with it, and xp built against it).
bool nccl_available();

// Rendezvous with the other ranks of `world`, blocking until all have arrived (or the timeout).
// Throws ConfigError for a backend this build lacks, DistributedError when the rendezvous fails.
std::shared_ptr<Communicator> connect(const World& world, const ConnectOptions& options);

}  // namespace xp::distributed
