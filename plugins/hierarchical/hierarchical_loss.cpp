// L = L_species + lambda * L_disease for a two-level classification. The species term trains the
// species logits on the species of the target leaf; the disease term is routed by the TRUE
// species: disease logits of leaves outside it are masked, so a leaf only competes with the
// diseases of its own species (the notes' per-species heads). Both terms are any loss plugin.
#include <xp/plugin.h>

#include <torch/torch.h>

#include "class_groups.h"

namespace xp::hierarchical {
namespace {

// Masked logits: very negative, not -inf. -inf turns the 0 * log p terms of soft targets and
// focal loss into NaN; -1e4 still gives exp() = 0 against real logits and is representable in
// fp16 (max 65504) and bf16, so a loss that runs under autocast sees no inf either.
constexpr double kMasked = -1e4;

class HierarchicalLoss : public Loss {
 public:
  static Schema schema() {
    return Schema("L_species + lambda * L_disease, the disease term routed by the true species; each term "
                  "any loss plugin (default cross_entropy); honours soft targets (mixup/cutmix)")
        .tasks({"classification"})  // any classification: class_groups may name the groups
        .add_plugin("species_loss", "loss", "loss on the species logits (default cross_entropy)").optional()
        .add_plugin("disease_loss", "loss", "loss on the disease logits of the true species' leaves (default "
                                            "cross_entropy)").optional()
        .add_float("lambda", 0.7, "weight of the disease term").range(0.0, 100.0)
        .add_ints("class_groups", {}, "species of each leaf class ([] = from the dataset's \"species/disease\" "
                                      "class names)").min(0);
  }

  explicit HierarchicalLoss(const Params& p)
      : groups_(p.get_ints("class_groups"), "loss 'hierarchical'"), lambda_(p.get_float("lambda")) {
    Params species = term(p, "species_loss"), disease = term(p, "disease_loss");
    if (disease.has("label_smoothing") && disease.get("label_smoothing").is_number() &&
        disease.get_float("label_smoothing") > 0)
      throw ConfigError("hierarchical: disease_loss label_smoothing would spread target mass onto the masked "
                        "leaves of the other species; smooth species_loss only, or use a loss without smoothing "
                        "for the disease term",
                        disease.where().empty() ? p.where() : disease.where());
    species_ = register_module("species_loss", create<Loss>(species));
    disease_ = register_module("disease_loss", create<Loss>(disease));
  }

  torch::Tensor forward(const ModelOutput& output, const Batch& batch) override {
    // The hierarchical model's heads when present; else a flat model's leaf logits, whose group
    // logsumexp is the species marginal and whose restriction to a group the conditional.
    auto species_it = output.aux.find("species"), disease_it = output.aux.find("disease");
    torch::Tensor species_logits = species_it != output.aux.end() ? species_it->second
                                                                  : groups_.group_logsumexp(output.logits);
    torch::Tensor disease_logits = disease_it != output.aux.end() ? disease_it->second : output.logits;
    check_width(species_logits, groups_.groups(), "loss 'hierarchical'", "species logits");
    check_width(disease_logits, groups_.leaves(), "loss 'hierarchical'", "disease logits");
    const auto device = disease_logits.device();

    Batch species_batch = batch, disease_batch = batch;
    torch::Tensor keep;  // [B, K]: the leaves the disease term may choose from
    if (batch.soft_target.defined()) {
      // Mixed labels (mixup/cutmix): the species target is the group marginal of the leaf mixture,
      // and the disease term routes to every species the mixture holds.
      check_width(batch.soft_target, groups_.leaves(), "loss 'hierarchical'", "soft_target");
      torch::Tensor q = batch.soft_target.to(device, torch::kFloat32);
      torch::Tensor species_q = groups_.group_sum(q);
      species_batch.soft_target = species_q;
      disease_batch.soft_target = q;
      keep = groups_.spread(species_q) > 0;
      if (batch.target.defined() && batch.target.dim() == 1) species_batch.target = groups_.group_of_leaves(batch.target);
    } else {
      if (!batch.target.defined() || batch.target.dim() != 1)
        throw std::invalid_argument("loss 'hierarchical': expects leaf class indices [B] in batch.target");
      torch::Tensor target = batch.target.to(device, torch::kLong);
      if (target.numel() && (target.min().item<int64_t>() < 0 || target.max().item<int64_t>() >= groups_.leaves()))
        throw std::invalid_argument("loss 'hierarchical': a target is outside the " +
                                    std::to_string(groups_.leaves()) + " leaf classes");
      torch::Tensor species_target = groups_.group_of_leaves(target);
      species_batch.target = species_target;
      disease_batch.target = target;
      keep = groups_.in_group(species_target);
    }
    ModelOutput species_out, disease_out;
    species_out.logits = species_logits;
    disease_out.logits = disease_logits.masked_fill(keep.logical_not(), kMasked);
    return species_->forward(species_out, species_batch) + lambda_ * disease_->forward(disease_out, disease_batch);
  }

 private:
  static Params term(const Params& p, const std::string& name) {
    if (p.has(name)) return p.get_plugin(name);
    const PluginEntry& entry = PluginRegistry::instance().get("loss", "cross_entropy");
    Value::Table defaults;
    for (const auto& spec : entry.schema.params())
      if (!spec.default_value.is_none()) defaults[spec.name] = spec.default_value;
    return Params("cross_entropy", std::move(defaults), p.where());
  }

  ClassGroups groups_;
  double lambda_;
  std::shared_ptr<Loss> species_, disease_;
};

}  // namespace
}  // namespace xp::hierarchical

XP_REGISTER_LOSS("hierarchical", xp::hierarchical::HierarchicalLoss);
