// Fraction of samples whose target is among the k highest logits; reported as "top<k>".
#include <xp/plugin.h>

#include "confusion_counts.h"

namespace {

class TopK : public xp::Metric {
 public:
  static xp::Schema schema() {
    return xp::Schema("Top-k accuracy; reports \"top<k>\" (k larger than the class count counts every sample)")
        .add_int("k", 5, "how many of the highest logits may contain the target").range(1, 1000)
        .outputs({"top*"})
        .tasks({"classification"});
  }
  explicit TopK(const xp::Params& p) : k_(p.get_int("k")) {}

  void reset() override { correct_ = total_ = 0; }
  void update(const xp::ModelOutput& output, const xp::Batch& batch) override {
    torch::Tensor targets = xp::classification::checked_targets(output, batch, "topk");
    const int64_t k = std::min<int64_t>(k_, output.logits.size(1));
    torch::Tensor best = std::get<1>(output.logits.topk(k, 1)).to(torch::kCPU);
    torch::Tensor known = targets >= 0;
    torch::Tensor hits = (best == targets.unsqueeze(1)).any(1) & known;
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
    return {{"top" + std::to_string(k_), total_ ? static_cast<double>(correct_) / static_cast<double>(total_) : 0.0}};
  }

 private:
  int64_t k_;
  int64_t correct_ = 0, total_ = 0;
};

}  // namespace

XP_REGISTER_METRIC("topk", TopK);
