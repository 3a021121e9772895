#include "curves.h"

#include <cmath>

#include "statistics.h"

namespace xp::report {

std::map<std::string, std::vector<SeriesPoint>> run_series(const std::vector<MetricPoint>& history) {
  std::map<std::string, std::map<int64_t, SeriesPoint>> by_epoch;
  for (const auto& p : history) {
    if (!std::isfinite(p.value)) continue;
    auto& slot = by_epoch[p.name];
    auto it = slot.find(p.epoch);
    if (it == slot.end() || p.step >= it->second.step) slot[p.epoch] = {p.epoch, p.step, p.value};
  }
  std::map<std::string, std::vector<SeriesPoint>> out;
  for (auto& [name, epochs] : by_epoch) {
    auto& v = out[name];
    for (auto& [e, point] : epochs) v.push_back(point);
  }
  return out;
}

std::vector<CurvePoint> mean_curve(const std::vector<std::vector<SeriesPoint>>& runs) {
  std::map<int64_t, std::vector<const SeriesPoint*>> at;
  for (const auto& run : runs)
    for (const auto& p : run) at[p.epoch].push_back(&p);
  std::vector<CurvePoint> out;
  for (const auto& [epoch, points] : at) {
    std::vector<double> values;
    double steps = 0;
    for (const auto* p : points) values.push_back(p->value), steps += static_cast<double>(p->step);
    CurvePoint c;
    c.epoch = epoch;
    c.step = steps / static_cast<double>(points.size());
    c.mean = stats::mean(values);
    c.std = values.size() < 2 ? 0.0 : stats::sample_std(values);
    c.n = static_cast<int64_t>(values.size());
    out.push_back(c);
  }
  return out;
}

std::vector<size_t> downsample_indices(size_t n, size_t max_points) {
  std::vector<size_t> out;
  if (n == 0 || max_points == 0) return out;
  if (n <= max_points || max_points == 1) {
    if (max_points == 1 && n > 1) return {n - 1};
    for (size_t i = 0; i < n; ++i) out.push_back(i);
    return out;
  }
  // Index k of max_points: round(k * (n - 1) / (max_points - 1)); strictly increasing since n > max_points.
  for (size_t k = 0; k < max_points; ++k)
    out.push_back(static_cast<size_t>(std::llround(static_cast<double>(k) * static_cast<double>(n - 1) /
                                                   static_cast<double>(max_points - 1))));
  return out;
}

MetricName split_metric_name(const std::string& name) {
  for (const char* prefix : {"test_cal_", "train_", "val_", "test_"}) {
    std::string p = prefix;
    if (name.size() > p.size() && name.compare(0, p.size(), p) == 0) return {p.substr(0, p.size() - 1), name.substr(p.size())};
  }
  return {"", name};
}

}  // namespace xp::report
