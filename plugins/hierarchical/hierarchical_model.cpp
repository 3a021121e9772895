// A shared backbone with a species head and one masked disease head over all leaves. The disease
// head is one Linear(F, K) rather than one layer per species: routing is a mask over its columns,
// so a batch of mixed species stays one matrix product (the notes' per-species heads are the
// blocks of this layer's rows). `logits` is log p(leaf), a proper distribution over the K leaves,
// so everything that reads only `logits` (top1, f1, calibration, TTA, ensembles) keeps working.
#include <xp/plugin.h>

#include <torch/torch.h>

#include "class_groups.h"

namespace xp::hierarchical {
namespace {

class HierarchicalModel : public Model {
 public:
  static Schema schema() {
    return Schema("Backbone + species head + masked disease head over \"species/disease\" leaves; logits = "
                  "log p(leaf), aux species/disease/features. Modules: backbone, species_head, disease_head")
        .tasks({"classification"})  // any classification: class_groups may name the groups
        .add_plugin("backbone", "model", "feature extractor: a model that returns aux[\"features\"] [B, F] "
                                         "(simple_cnn, resnet, mobilenet_v2, vit, mlp); its own head is unused")
        .add_int("num_classes", 0, "leaf classes (0 = from the dataset)").min(0)
        .add_ints("class_groups", {}, "species of each leaf class ([] = from the dataset's \"species/disease\" "
                                      "class names)").min(0)
        .add_int("feature_dim", 0, "width F of the backbone's features (0 = measured with one forward pass "
                                   "on a probe_size x probe_size input)").min(0)
        .add_int("probe_size", 64, "side of the dummy input that measures F when feature_dim = 0").range(8, 4096)
        .add_float("dropout", 0.0, "dropout on the features before both heads").range(0.0, 0.99);
  }

  explicit HierarchicalModel(const Params& p) : groups_(p.get_ints("class_groups"), "hierarchical") {
    const int64_t classes = p.get_int("num_classes");
    if (classes != 0 && classes != groups_.leaves())
      throw ConfigError("hierarchical: num_classes is " + std::to_string(classes) + " but class_groups lists " +
                            std::to_string(groups_.leaves()) + " classes",
                        p.where());
    Params inner = p.get_plugin("backbone");
    // The backbone's own classifier is never used, but most models refuse num_classes = 0.
    if (inner.has("num_classes") && inner.get("num_classes").type() == Value::Type::Int &&
        inner.get_int("num_classes") == 0)
      inner = inner.with("num_classes", Value(groups_.leaves()));
    backbone_ = register_module("backbone", create<Model>(inner));
    backbone_name_ = inner.plugin();

    int64_t width = p.get_int("feature_dim");
    if (width == 0) width = probe_width(inner, p.get_int("probe_size"));
    if (p.get_float("dropout") > 0) dropout_ = register_module("dropout", torch::nn::Dropout(p.get_float("dropout")));
    species_head_ = register_module("species_head", torch::nn::Linear(width, groups_.groups()));
    disease_head_ = register_module("disease_head", torch::nn::Linear(width, groups_.leaves()));
  }

  ModelOutput forward(const torch::Tensor& input) override {
    torch::Tensor features = features_of(backbone_->forward(input));
    torch::Tensor x = dropout_ ? dropout_->forward(features) : features;
    ModelOutput out;
    out.aux["species"] = species_head_->forward(x);
    out.aux["disease"] = disease_head_->forward(x);
    out.aux["features"] = features;
    out.logits = groups_.leaf_log_probs(out.aux["species"], out.aux["disease"]);
    return out;
  }

 private:
  torch::Tensor features_of(const ModelOutput& inner) const {
    auto it = inner.aux.find("features");
    if (it == inner.aux.end() || !it->second.defined())
      throw std::invalid_argument("hierarchical: backbone '" + backbone_name_ +
                                  "' returns no aux[\"features\"]; use a backbone that does (simple_cnn, resnet, "
                                  "mobilenet_v2, vit, mlp)");
    const torch::Tensor& f = it->second;
    if (f.dim() == 4) return f.mean({2, 3});  // a feature map: global average pooling
    if (f.dim() != 2)
      throw std::invalid_argument("hierarchical: backbone '" + backbone_name_ + "' returns features with " +
                                  std::to_string(f.dim()) + " dims; expected [B, F] or [B, C, H, W]");
    return f;
  }

  // Eval mode for the probe: batch norm with one sample, and no dropout draws from torch's RNG
  // (which would shift the initialisation of the heads with the probe).
  int64_t probe_width(const Params& inner, int64_t size) {
    const int64_t channels = inner.has("in_channels") && inner.get("in_channels").type() == Value::Type::Int
                                 ? inner.get_int("in_channels")
                                 : 3;
    torch::NoGradGuard no_grad;
    backbone_->eval();
    const int64_t width = features_of(backbone_->forward(torch::zeros({1, channels, size, size}))).size(1);
    backbone_->train();
    return width;
  }

  ClassGroups groups_;
  std::shared_ptr<Model> backbone_;
  std::string backbone_name_;
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear species_head_{nullptr}, disease_head_{nullptr};
};

}  // namespace
}  // namespace xp::hierarchical

XP_REGISTER_MODEL("hierarchical", xp::hierarchical::HierarchicalModel);
