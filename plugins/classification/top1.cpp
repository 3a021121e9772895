// Fraction of samples whose argmax prediction is the target, counted exactly over the pass.
#include <xp/plugin.h>

#include "confusion_counts.h"

namespace {

class Top1 : public xp::Metric {
 public:
  static xp::Schema schema() { return xp::Schema("Accuracy of the argmax prediction; reports \"top1\"").outputs({"top1"}).tasks({"classification"});
  }
  explicit Top1(const xp::Params&) {}

  void reset() override { correct_ = total_ = 0; }
  void update(const xp::ModelOutput& output, const xp::Batch& batch) override {
    torch::Tensor targets = xp::classification::checked_targets(output, batch, "top1");
    torch::Tensor known = targets >= 0;
    torch::Tensor hits = (output.logits.argmax(1).to(torch::kCPU) == targets) & known;
    correct_ += hits.sum().item<int64_t>();
    total_ += known.sum().item<int64_t>();
  }
  bool reduce_state(xp::MetricStateReducer& r) override {
    int64_t state[2] = {correct_, total_};
    r.sum(state, 2);
    correct_ = state[0], total_ = state[1];
    return true;
  }
  std::map<std::string, double> compute() const override {
    return {{"top1", total_ ? static_cast<double>(correct_) / static_cast<double>(total_) : 0.0}};
  }

 private:
  int64_t correct_ = 0, total_ = 0;
};

}  // namespace

XP_REGISTER_METRIC("top1", Top1);
