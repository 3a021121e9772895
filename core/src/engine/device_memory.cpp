#include "engine/device_memory.h"

#include <sys/resource.h>

#ifdef XP_WITH_CUDA_STATS
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace xp::engine {

double peak_rss_mib() {
  struct rusage usage {};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0.0;
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

bool cuda_memory_stats_available() {
#ifdef XP_WITH_CUDA_STATS
  return true;
#else
  return false;
#endif
}

std::map<std::string, double> take_memory_peaks(const torch::Device& device) {
  std::map<std::string, double> out{{"mem_peak_rss_mb", peak_rss_mib()}};
#ifdef XP_WITH_CUDA_STATS
  if (device.is_cuda()) {
    const int index = device.has_index() ? device.index() : 0;
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
    constexpr size_t kAggregate = 0;  // StatType::AGGREGATE: all pools together
    out["mem_gpu_peak_allocated_mb"] = static_cast<double>(stats.allocated_bytes[kAggregate].peak) / (1 << 20);
    out["mem_gpu_peak_reserved_mb"] = static_cast<double>(stats.reserved_bytes[kAggregate].peak) / (1 << 20);
    c10::cuda::CUDACachingAllocator::resetPeakStats(index);
  }
#else
  (void)device;
#endif
  return out;
}

}  // namespace xp::engine
