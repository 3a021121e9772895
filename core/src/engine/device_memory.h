#pragma once
// Memory the run used, per epoch: peak RSS of the process (CPU) and, on CUDA, the caching
// allocator's peak allocated and reserved bytes (what torch.cuda.max_memory_allocated reports).

#include <map>
#include <string>

#include <torch/torch.h>

namespace xp::engine {

// Peak resident set size of this process so far, in MiB.
double peak_rss_mib();

// True when this build can read CUDA allocator statistics (LibTorch with CUDA, c10_cuda linked).
bool cuda_memory_stats_available();

// {"mem_peak_rss_mb", and on CUDA "mem_gpu_peak_allocated_mb", "mem_gpu_peak_reserved_mb"} since
// the last reset; resets the CUDA peaks so that the next call covers the next epoch.
std::map<std::string, double> take_memory_peaks(const torch::Device& device);

}  // namespace xp::engine
