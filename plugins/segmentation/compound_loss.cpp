// A weighted sum of losses, e.g. binary_focal + dice. The compound owns target preparation and deep
// supervision so they happen once: its children see the already prepared target (ignored pixels
// written as ignore_index) and only the main logits.
#include "binary_seg_loss.h"

namespace xp::seg {
namespace {

class CompoundLoss : public Loss {
 public:
  static Schema schema() {
    Schema s("Weighted sum of losses, e.g. terms = [{plugin = \"binary_focal\"}, {plugin = \"dice\"}]");
    s.add_plugins("terms", "loss", "the losses to add (children use the compound's ignore_index)")
        .add_floats("weights", {}, "one weight per term ([] = all 1)").min(0.0);
    return BinarySegLoss::add_common(s);
  }

  explicit CompoundLoss(const Params& p)
      : options_(target_options(p)), ds_weight_(p.get_float("ds_weight")), weights_(p.get_floats("weights")) {
    auto terms = p.get_plugins("terms");
    if (terms.empty()) throw ConfigError("compound: `terms` needs at least one loss", p.where());
    if (weights_.empty()) weights_.assign(terms.size(), 1.0);
    if (weights_.size() != terms.size())
      throw ConfigError("compound: " + std::to_string(weights_.size()) + " weights for " +
                            std::to_string(terms.size()) + " terms",
                        p.where());
    for (size_t i = 0; i < terms.size(); ++i) {
      const auto& child = terms[i];
      if (child.has("ignore_index") && child.get_int("ignore_index") != options_.ignore_index)
        throw ConfigError("compound: term '" + child.plugin() + "' has ignore_index " +
                              std::to_string(child.get_int("ignore_index")) + " but the compound has " +
                              std::to_string(options_.ignore_index) + "; set it on the compound only",
                          child.where().empty() ? p.where() : child.where());
      terms_.push_back(register_module("term" + std::to_string(i), xp::create<Loss>(child)));
    }
  }

  torch::Tensor forward(const ModelOutput& output, const Batch& batch) override {
    check_binary_logits(output.logits, batch.target, "loss 'compound'");
    Batch prepared = batch;
    {
      auto t = prepare_target(batch.target.to(output.logits.device()), options_);
      prepared.target = torch::where(t.weight > 0, t.target,
                                     torch::full_like(t.target, static_cast<double>(options_.ignore_index)));
    }
    auto loss = sum_terms(output.logits, prepared);
    if (ds_weight_ <= 0.0) return loss;
    std::vector<torch::Tensor> deep;
    for (const auto& [key, logits] : output.aux)
      if (key.rfind("ds_", 0) == 0 && logits.defined()) deep.push_back(sum_terms(resize_like(logits, prepared.target), prepared));
    if (deep.empty()) return loss;
    return loss + ds_weight_ * torch::stack(deep).mean();
  }

 private:
  torch::Tensor sum_terms(const torch::Tensor& logits, const Batch& batch) {
    ModelOutput single;
    single.logits = logits;
    torch::Tensor total;
    for (size_t i = 0; i < terms_.size(); ++i) {
      auto term = weights_[i] * terms_[i]->forward(single, batch);
      total = total.defined() ? total + term : term;
    }
    return total;
  }

  TargetOptions options_;
  double ds_weight_;
  std::vector<double> weights_;
  std::vector<std::shared_ptr<Loss>> terms_;
};

}  // namespace
}  // namespace xp::seg

XP_REGISTER_LOSS("compound", xp::seg::CompoundLoss);
