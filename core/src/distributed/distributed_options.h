#pragma once
// [train] distributed = { ... }: how the ranks of a data-parallel run talk. Whether a run is
// distributed at all is decided by the launcher's environment (see world.h), not by this table.

#include <cstdint>
#include <string>

namespace xp::distributed {

struct DistributedOptions {
  std::string backend = "auto";  // auto | gloo | nccl
  double bucket_mb = 25.0;       // gradient bucket size (DDP's bucket_cap_mb)
  bool find_unused = false;      // parameters may get no gradient in a step
  bool sync_batchnorm = false;   // batch norm over the global batch (sync_batch_norm.h)
  bool broadcast_buffers = true; // rank 0's buffers (batch-norm statistics) to all ranks before each forward
  double timeout_s = 300.0;      // a collective (or the rendezvous) that takes longer fails the run
  int64_t gloo_threads = 2;      // Gloo's worker threads per rank
};

}  // namespace xp::distributed
