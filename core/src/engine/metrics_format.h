#pragma once
// How a row of metrics reads on one console line: the losses first, then the metrics `stems` names
// (all when empty), then the learning rate and memory. Every value still goes to metrics.csv and
// the registry; this is only what a person watching the run sees.

#include <map>
#include <string>
#include <vector>

namespace xp::engine {

// The metric name without its split prefix: "val_iou" -> "iou", "test_cal_f1" -> "f1".
std::string metric_stem(const std::string& key);

std::string format_row(const std::map<std::string, double>& row, const std::vector<std::string>& stems = {});

}  // namespace xp::engine
