#include "engine/metrics_format.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

namespace xp::engine {

// The metric name without its split prefix: "val_iou" -> "iou", "test_cal_f1" -> "f1".
std::string metric_stem(const std::string& key) {
  for (const char* prefix : {"test_cal_", "train_", "val_", "test_"})
    if (key.rfind(prefix, 0) == 0) return key.substr(std::char_traits<char>::length(prefix));
  return key;
}

std::string format_row(const std::map<std::string, double>& row, const std::vector<std::string>& stems) {
  std::ostringstream os;
  auto put = [&](const std::string& k, double v) {
    os << "  " << k << " ";
    if (k == "lr") os << std::scientific << std::setprecision(2) << v << std::defaultfloat;
    else os << std::fixed << std::setprecision(4) << v << std::defaultfloat;
  };
  auto is_loss = [](const std::string& k) { return metric_stem(k) == "loss"; };
  for (const auto& [k, v] : row)
    if (is_loss(k)) put(k, v);
  auto system = [](const std::string& k) {
    return k.rfind("time_", 0) == 0 || k.rfind("mem_", 0) == 0 || k.rfind("amp_", 0) == 0;
  };
  for (const auto& [k, v] : row) {
    if (is_loss(k) || k == "epoch" || k == "step" || k == "lr" || system(k)) continue;
    if (stems.empty() || std::find(stems.begin(), stems.end(), metric_stem(k)) != stems.end()) put(k, v);
  }
  if (auto it = row.find("lr"); it != row.end()) put("lr", it->second);
  // Memory as the rice notes print it: process peak, and the GPU allocator's peaks on CUDA.
  if (auto it = row.find("mem_peak_rss_mb"); it != row.end()) os << "  rss " << std::lround(it->second) << "M";
  auto alloc = row.find("mem_gpu_peak_allocated_mb"), reserved = row.find("mem_gpu_peak_reserved_mb");
  if (alloc != row.end() && reserved != row.end())
    os << "  gpu " << std::lround(alloc->second) << "/" << std::lround(reserved->second) << "M";
  if (auto it = row.find("amp_skipped_steps"); it != row.end() && it->second > 0)
    os << "  amp_skipped " << std::lround(it->second);
  return os.str();
}

}  // namespace xp::engine
