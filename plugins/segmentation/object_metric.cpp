// `object`: detection-style precision / recall / F1 of objects (connected components), the number
// a rare-object study cares about: was each object found, and how many false alarms per tile.
#include <cmath>

#include "object_matching.h"
#include "seg_prediction.h"
#include "xp/plugin.h"

namespace xp::seg {
namespace {

class ObjectMetric : public Metric {
 public:
  static Schema schema() {
    Schema s("Object-level precision/recall/f1 via connected components and greedy IoU matching; "
             "reports obj_{precision,recall,f1}_<100 x IoU threshold>, e.g. obj_f1_30");
    add_metric_options(s);
    s.add_floats("iou_thresholds", {0.1, 0.3, 0.5}, "IoU a matched pair needs").range(0.0, 1.0)
        .add_int("connectivity", 8, "pixel connectivity of components").choices({Value(4), Value(8)})
        .add_int("min_area", 1, "predicted components smaller than this are dropped").min(1)
        .outputs({"obj_precision_*", "obj_recall_*", "obj_f1_*"})
        .tasks({"segmentation"});
    return s;
  }

  explicit ObjectMetric(const Params& p)
      : threshold_(p.get_float("threshold")), ignore_index_(p.get_int("ignore_index")),
        thresholds_(p.get_floats("iou_thresholds")), connectivity_(static_cast<int>(p.get_int("connectivity"))),
        min_area_(p.get_int("min_area")) {
    if (thresholds_.empty()) throw ConfigError("object: iou_thresholds is empty", p.where());
    reset();
  }

  void reset() override { counts_.assign(thresholds_.size(), ObjectCounts{}); }

  void update(const ModelOutput& output, const Batch& batch) override {
    auto v = pixel_view(output, batch, ignore_index_, "metric 'object'");
    // Predictions inside ignored regions are neither hits nor false alarms.
    auto predicted = v.probability.gt(threshold_).logical_and(v.valid).to(torch::kUInt8).contiguous();
    auto truth = v.positive.to(torch::kUInt8).contiguous();
    const int h = static_cast<int>(predicted.size(1)), w = static_cast<int>(predicted.size(2));
    for (int64_t b = 0; b < predicted.size(0); ++b) {
      cv::Mat pm(h, w, CV_8U, predicted[b].data_ptr<uint8_t>());
      cv::Mat tm(h, w, CV_8U, truth[b].data_ptr<uint8_t>());
      auto per_threshold = match_objects(pm, tm, thresholds_, connectivity_, min_area_);
      for (size_t k = 0; k < counts_.size(); ++k) counts_[k] += per_threshold[k];
    }
  }

  bool reduce_state(MetricStateReducer& r) override {
    std::vector<int64_t> state;
    for (const auto& c : counts_) state.insert(state.end(), {c.tp, c.fp, c.fn});
    r.sum(state.data(), state.size());
    for (size_t k = 0; k < counts_.size(); ++k) counts_[k] = {state[3 * k], state[3 * k + 1], state[3 * k + 2]};
    return true;
  }

  std::map<std::string, double> compute() const override {
    std::map<std::string, double> out;
    for (size_t k = 0; k < thresholds_.size(); ++k) {
      auto suffix = "_" + std::to_string(std::lround(thresholds_[k] * 100));
      double tp = static_cast<double>(counts_[k].tp), fp = static_cast<double>(counts_[k].fp),
             fn = static_cast<double>(counts_[k].fn);
      out["obj_precision" + suffix] = ratio(tp, tp + fp);
      out["obj_recall" + suffix] = ratio(tp, tp + fn);
      out["obj_f1" + suffix] = ratio(2 * tp, 2 * tp + fp + fn);
    }
    return out;
  }

 private:
  double threshold_;
  int64_t ignore_index_;
  std::vector<double> thresholds_;
  int connectivity_;
  int64_t min_area_;
  std::vector<ObjectCounts> counts_;
};

}  // namespace
}  // namespace xp::seg

XP_REGISTER_METRIC("object", xp::seg::ObjectMetric);
