#pragma once
// Task-specific panels from the values runs record: confusion matrices ("<split>_cm_<true>_<pred>",
// the confusion_matrix metric), per-class F1 and recall ("<split>_f1_class_<c>",
// "<split>_recall_class_<c>") and precision-recall over thresholds ("<split>_obj_precision_<t>",
// "<split>_obj_recall_<t>", the segmentation object metrics: precision and recall of objects
// matched at IoU >= t/100) and reliability diagrams ("<split>_reliability_<b>_conf|freq|share",
// written by train.calibration for the test outputs before and, as "test_cal", after temperature
// scaling: eval/reliability_diagram.h). Each is drawn per variant (the mean over its runs) on the
// study page and for the one run on the run page.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace xp::report {

struct TaskPanels {
  // split -> rows; empty maps when runs recorded none of these.
  std::map<std::string, nlohmann::json> confusion;  // {facet, truth, pred, count, rate}
  std::map<std::string, nlohmann::json> f1, recall; // {group, class, value}
  std::map<std::string, nlohmann::json> pr;         // {group, threshold, precision, recall}
  // split (the "_cal" suffix taken off) -> {group, calibration: "before"|"after", bin, conf, freq, share}
  std::map<std::string, nlohmann::json> reliability;
  bool empty() const { return confusion.empty() && f1.empty() && recall.empty() && pr.empty() && reliability.empty(); }
};

// `labelled`: (variant or run label, its metric values), e.g. a variant's mean over its runs.
TaskPanels task_panels(const std::vector<std::pair<std::string, std::map<std::string, double>>>& labelled);

// The mean of each metric over the maps that have it.
std::map<std::string, double> mean_metrics(const std::vector<std::map<std::string, double>>& runs);

}  // namespace xp::report
