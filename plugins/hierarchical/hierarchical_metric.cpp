// Species and disease accuracy of a two-level classification, and the cascade a deployed model
// runs: predict the species, then the disease among that species' leaves; right only when both are.
// Everything is derived from `logits` read as leaf scores (log p(leaf) for the hierarchical model,
// any flat model's logits otherwise): TTA, calibration and ensembles transform only `logits`, so
// reading the aux heads would measure something other than what they produced.
#include <xp/plugin.h>

#include <torch/torch.h>

#include "class_groups.h"

namespace xp::hierarchical {
namespace {

class HierarchicalMetric : public Metric {
 public:
  static Schema schema() {
    return Schema("Two-level accuracy: species_top1, species_top<k>, disease_top1, disease_top<k> and "
                  "disease_f1_macro (disease routed by the true species), cascade_top1 (by the predicted one)")
        .tasks({"classification"})  // any classification: class_groups may name the groups
        .add_int("k", 3, "the k of species_top<k> and disease_top<k>").range(2, 1000)
        .add_ints("class_groups", {}, "species of each leaf class ([] = from the dataset's \"species/disease\" "
                                      "class names)").min(0)
        .outputs({"species_top*", "disease_top*", "disease_f1_macro", "cascade_top1"});
  }

  explicit HierarchicalMetric(const Params& p)
      : groups_(p.get_ints("class_groups"), "metric 'hierarchical'"), k_(p.get_int("k")) {}

  void reset() override {
    counts_ = {};
    confusion_.assign(groups_.leaves() * groups_.leaves(), 0);
  }

  void update(const ModelOutput& output, const Batch& batch) override {
    check_width(output.logits, groups_.leaves(), "metric 'hierarchical'", "leaf logits");
    if (!batch.target.defined() || batch.target.dim() != 1 || batch.target.size(0) != output.logits.size(0))
      throw std::invalid_argument("metric 'hierarchical': expects leaf class indices [B] in batch.target");
    if (confusion_.empty()) reset();
    torch::Tensor log_p = torch::log_softmax(output.logits.detach().to(torch::kCPU, torch::kFloat32), 1);
    torch::Tensor target = batch.target.to(torch::kCPU, torch::kLong);
    torch::Tensor known = (target >= 0).logical_and(target < groups_.leaves());
    if (!known.any().item<bool>()) return;
    log_p = log_p.index({known});
    target = target.index({known});

    torch::Tensor species = groups_.group_of_leaves(target);
    torch::Tensor species_scores = groups_.group_logsumexp(log_p);
    torch::Tensor species_pred = species_scores.argmax(1);
    const int64_t ks = std::min<int64_t>(k_, groups_.groups()), kd = k_;
    torch::Tensor species_best = std::get<1>(species_scores.topk(ks, 1));

    // Disease routed by the true species: leaves of other species cannot be chosen.
    torch::Tensor routed = log_p.masked_fill(groups_.in_group(species).logical_not(), -1e30);
    torch::Tensor disease_pred = routed.argmax(1);
    torch::Tensor disease_best = std::get<1>(routed.topk(std::min<int64_t>(kd, groups_.leaves()), 1));
    // A top-k slot that fell on a masked leaf is not a candidate (species with fewer than k leaves).
    torch::Tensor disease_topk_hit =
        ((disease_best == target.unsqueeze(1)) & routed.gather(1, disease_best).gt(-1e29)).any(1);
    // The cascade: the predicted species routes the disease prediction.
    torch::Tensor cascade_pred =
        log_p.masked_fill(groups_.in_group(species_pred).logical_not(), -1e30).argmax(1);

    counts_.total += target.size(0);
    counts_.species_top1 += (species_pred == species).sum().item<int64_t>();
    counts_.species_topk += (species_best == species.unsqueeze(1)).any(1).sum().item<int64_t>();
    counts_.disease_top1 += (disease_pred == target).sum().item<int64_t>();
    counts_.disease_topk += disease_topk_hit.sum().item<int64_t>();
    counts_.cascade_top1 += (cascade_pred == target).sum().item<int64_t>();
    torch::Tensor predicted = disease_pred.contiguous();
    const int64_t* t = target.data_ptr<int64_t>();
    const int64_t* d = predicted.data_ptr<int64_t>();
    for (int64_t i = 0; i < target.size(0); ++i) ++confusion_[t[i] * groups_.leaves() + d[i]];
  }

  bool reduce_state(MetricStateReducer& r) override {
    int64_t state[6] = {counts_.total,        counts_.species_top1, counts_.species_topk,
                        counts_.disease_top1, counts_.disease_topk, counts_.cascade_top1};
    r.sum(state, 6);
    counts_ = {state[0], state[1], state[2], state[3], state[4], state[5]};
    // A rank that saw no sample may not have sized its matrix yet.
    const int64_t cells = groups_.leaves() * groups_.leaves();
    if (confusion_.empty()) confusion_.assign(static_cast<size_t>(cells), 0);
    r.sum(confusion_.data(), confusion_.size());
    return true;
  }

  std::map<std::string, double> compute() const override {
    auto rate = [&](int64_t n) { return counts_.total ? static_cast<double>(n) / static_cast<double>(counts_.total) : 0.0; };
    const std::string k = std::to_string(k_);
    return {{"species_top1", rate(counts_.species_top1)},
            {"species_top" + k, rate(counts_.species_topk)},
            {"disease_top1", rate(counts_.disease_top1)},
            {"disease_top" + k, rate(counts_.disease_topk)},
            {"disease_f1_macro", macro_f1()},
            {"cascade_top1", rate(counts_.cascade_top1)}};
  }

 private:
  // Over the leaves that occur as target or prediction, as the f1 metric does.
  double macro_f1() const {
    const int64_t n = groups_.leaves();
    if (confusion_.empty()) return 0.0;
    double sum = 0;
    int64_t present = 0;
    for (int64_t c = 0; c < n; ++c) {
      int64_t support = 0, predicted = 0;
      for (int64_t j = 0; j < n; ++j) support += confusion_[c * n + j], predicted += confusion_[j * n + c];
      if (support + predicted == 0) continue;
      sum += 2.0 * static_cast<double>(confusion_[c * n + c]) / static_cast<double>(support + predicted);
      ++present;
    }
    return present ? sum / static_cast<double>(present) : 0.0;
  }

  struct Counts {
    int64_t total = 0, species_top1 = 0, species_topk = 0, disease_top1 = 0, disease_topk = 0, cascade_top1 = 0;
  };
  ClassGroups groups_;
  int64_t k_;
  Counts counts_;
  std::vector<int64_t> confusion_;  // K x K: true leaf x disease prediction routed by the true species
};

}  // namespace
}  // namespace xp::hierarchical

XP_REGISTER_METRIC("hierarchical", xp::hierarchical::HierarchicalMetric);
