#pragma once
// Learning curves for the HTML pages: one run's per-epoch series, the mean ± std over the seeds
// of a variant, and downsampling so that a page of thousands of long runs stays a few MB.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "run_registry.h"

namespace xp::report {

struct SeriesPoint {
  int64_t epoch = 0, step = 0;
  double value = 0;
};
// Per metric name, the run's values in epoch order; several values in one epoch keep the last
// logged (highest step). NaN values (a diverged run) are dropped.
std::map<std::string, std::vector<SeriesPoint>> run_series(const std::vector<MetricPoint>& history);

struct CurvePoint {
  int64_t epoch = 0;
  double step = 0;  // mean step of the runs at this epoch
  double mean = 0, std = 0;  // std over the runs with a value at this epoch; 0 for one run
  int64_t n = 0;
};
// The mean curve over runs: at each epoch any run reached, the mean and sample std of the runs'
// values there.
std::vector<CurvePoint> mean_curve(const std::vector<std::vector<SeriesPoint>>& runs);

// At most `max_points` indices of [0, n), evenly spread, always the first and the last.
std::vector<size_t> downsample_indices(size_t n, size_t max_points);
template <class T>
std::vector<T> downsample(const std::vector<T>& v, size_t max_points) {
  std::vector<T> out;
  for (size_t i : downsample_indices(v.size(), max_points)) out.push_back(v[i]);
  return out;
}

// "train_loss" -> {"train", "loss"}, "val_top1" -> {"val", "top1"}, "test_cal_f1" -> {"test_cal",
// "f1"}, "lr" -> {"", "lr"}.
struct MetricName {
  std::string split, base;
};
MetricName split_metric_name(const std::string& name);

}  // namespace xp::report
