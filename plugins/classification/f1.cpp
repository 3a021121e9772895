// Macro-F1: the unweighted mean of per-class F1, so a rare class counts as much as a common one.
// Classes that never occur, neither as target nor as prediction, are left out of the mean (they
// have no defined F1), as scikit-learn does when labels are not given.
#include <xp/plugin.h>

#include "confusion_counts.h"

namespace {

class F1 : public xp::Metric {
 public:
  static xp::Schema schema() {
    return xp::Schema("Macro-averaged F1 of the argmax prediction; reports \"f1_macro\" and, with per_class, "
                      "\"f1_class_<i>\"")
        .add_bool("per_class", false, "also report f1_class_<i> for every class")
        .outputs({"f1_macro", "f1_class_*"})
        .tasks({"classification"});
  }
  explicit F1(const xp::Params& p) : per_class_(p.get_bool("per_class")) {}

  void reset() override { counts_.reset(); }
  void update(const xp::ModelOutput& output, const xp::Batch& batch) override { counts_.update(output, batch, "f1"); }
  bool reduce_state(xp::MetricStateReducer& r) override {
    counts_.reduce(r);
    return true;
  }
  std::map<std::string, double> compute() const override {
    std::map<std::string, double> out;
    double sum = 0;
    int64_t present = 0;
    for (int64_t c = 0; c < counts_.classes(); ++c) {
      const int64_t tp = counts_.at(c, c), support = counts_.row_sum(c), predicted = counts_.column_sum(c);
      // F1 = 2TP / (2TP + FP + FN) = 2TP / (support + predicted)
      const double f1 = support + predicted > 0 ? 2.0 * tp / static_cast<double>(support + predicted) : 0.0;
      if (support + predicted > 0) sum += f1, ++present;
      if (per_class_) out["f1_class_" + std::to_string(c)] = f1;
    }
    out["f1_macro"] = present ? sum / present : 0.0;
    return out;
  }

 private:
  bool per_class_;
  xp::classification::ConfusionCounts counts_;
};

}  // namespace

XP_REGISTER_METRIC("f1", F1);
