// `pixel`: IoU, precision, recall and F1 of the positive class over every non-ignored pixel of the
// evaluation set (pooled counts, not a mean over tiles: empty tiles would dominate a mean).
#include "seg_prediction.h"
#include "xp/plugin.h"

namespace xp::seg {
namespace {

class PixelMetric : public Metric {
 public:
  static Schema schema() {
    Schema s("Pixel-level iou, precision, recall, f1 of the positive class (pooled over the set)");
    return add_metric_options(s).outputs({"iou", "precision", "recall", "f1"}).tasks({"segmentation"});
  }
  explicit PixelMetric(const Params& p) : threshold_(p.get_float("threshold")), ignore_index_(p.get_int("ignore_index")) {}

  void reset() override { tp_ = fp_ = fn_ = 0; }

  void update(const ModelOutput& output, const Batch& batch) override {
    auto v = pixel_view(output, batch, ignore_index_, "metric 'pixel'");
    auto predicted = v.probability.gt(threshold_).logical_and(v.valid);
    tp_ += predicted.logical_and(v.positive).sum().item<int64_t>();
    fp_ += predicted.logical_and(v.positive.logical_not()).sum().item<int64_t>();
    fn_ += predicted.logical_not().logical_and(v.positive).sum().item<int64_t>();
  }

  bool reduce_state(MetricStateReducer& r) override {
    int64_t state[3] = {tp_, fp_, fn_};
    r.sum(state, 3);
    tp_ = state[0], fp_ = state[1], fn_ = state[2];
    return true;
  }
  std::map<std::string, double> compute() const override {
    double tp = static_cast<double>(tp_), fp = static_cast<double>(fp_), fn = static_cast<double>(fn_);
    return {{"iou", ratio(tp, tp + fp + fn)},
            {"precision", ratio(tp, tp + fp)},
            {"recall", ratio(tp, tp + fn)},
            {"f1", ratio(2 * tp, 2 * tp + fp + fn)}};
  }

 private:
  double threshold_;
  int64_t ignore_index_;
  int64_t tp_ = 0, fp_ = 0, fn_ = 0;
};

}  // namespace
}  // namespace xp::seg

XP_REGISTER_METRIC("pixel", xp::seg::PixelMetric);
