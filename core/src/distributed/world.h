#pragma once
// Who this process is in a data-parallel job, read from the environment that a launcher sets:
// torchrun's names (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), or
// Slurm's (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE, SLURM_JOB_NODELIST) so
// that `srun xp run EXP` works without a wrapper. torchrun's names win when both are present (a
// torchrun started inside an allocation). Torch-free.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace xp::distributed {

struct World {
  int rank = 0, world_size = 1;
  int local_rank = 0, local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string host;     // this machine's name, for messages
  std::string source = "single";  // "env" (torchrun names), "slurm" or "single"

  // Several ranks, or one that a launcher started (torchrun, --nproc-per-node 1): that one still
  // builds its process group, so the data-parallel path runs (and can be tested) on one GPU.
  // A single Slurm task stays a plain process.
  bool distributed() const { return world_size > 1 || source == "env"; }
  bool is_rank0() const { return rank == 0; }
  // "rank 1/4 on node07" for messages.
  std::string describe() const;
};

// Reads one variable; std::nullopt when unset. Tests pass a map instead of the real environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup process_environment();

// Throws xp::ConfigError naming the variable when a value is malformed or inconsistent
// (RANK >= WORLD_SIZE, a port outside 1..65535, WORLD_SIZE without RANK).
World discover_world(const EnvLookup& env = process_environment());

// The first host of a Slurm node list: "gpu[03-05,09],cpu1" -> "gpu03", "a,b" -> "a".
std::string first_slurm_host(const std::string& nodelist);

// This machine's host name (gethostname), "localhost" when it fails.
std::string host_name();

}  // namespace xp::distributed
