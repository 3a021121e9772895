// Per-class recall and balanced accuracy from the confusion matrix, plus the matrix itself as
// "cm_<true>_<pred>" counts while it is small enough to read in a run summary.
#include <xp/plugin.h>

#include "confusion_counts.h"

namespace {

class ConfusionMatrix : public xp::Metric {
 public:
  static xp::Schema schema() {
    return xp::Schema("Confusion matrix: reports \"recall_class_<i>\", \"balanced_accuracy\" and the counts "
                      "\"cm_<true>_<pred>\" when there are at most max_classes classes")
        .add_int("max_classes", 20, "report the matrix entries only up to this many classes").range(0, 1000)
        .outputs({"recall_class_*", "balanced_accuracy", "cm_*"})
        .tasks({"classification"});
  }
  explicit ConfusionMatrix(const xp::Params& p) : max_classes_(p.get_int("max_classes")) {}

  void reset() override { counts_.reset(); }
  void update(const xp::ModelOutput& output, const xp::Batch& batch) override {
    counts_.update(output, batch, "confusion_matrix");
  }
  bool reduce_state(xp::MetricStateReducer& r) override {
    counts_.reduce(r);
    return true;
  }
  std::map<std::string, double> compute() const override {
    std::map<std::string, double> out;
    const int64_t k = counts_.classes();
    double recall_sum = 0;
    int64_t supported = 0;
    for (int64_t c = 0; c < k; ++c) {
      const int64_t support = counts_.row_sum(c);
      const double recall = support ? static_cast<double>(counts_.at(c, c)) / static_cast<double>(support) : 0.0;
      out["recall_class_" + std::to_string(c)] = recall;
      if (support) recall_sum += recall, ++supported;
    }
    out["balanced_accuracy"] = supported ? recall_sum / supported : 0.0;
    if (k <= max_classes_)
      for (int64_t i = 0; i < k; ++i)
        for (int64_t j = 0; j < k; ++j)
          out["cm_" + std::to_string(i) + "_" + std::to_string(j)] = static_cast<double>(counts_.at(i, j));
    return out;
  }

 private:
  int64_t max_classes_;
  xp::classification::ConfusionCounts counts_;
};

}  // namespace

XP_REGISTER_METRIC("confusion_matrix", ConfusionMatrix);
