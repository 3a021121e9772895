// `synthetic_leaves`: a generated two-level (species/disease) classification dataset, for tests and
// the hierarchical example (see synthetic_leaves_generator.h for what the images show).
#include <xp/plugin.h>

#include "synthetic_leaves_generator.h"

namespace xp::hierarchical {
namespace {

class SyntheticLeavesSplit : public Split {
 public:
  SyntheticLeavesSplit(std::shared_ptr<const SyntheticLeavesGenerator> generator, int64_t split, int64_t size,
                       std::string name)
      : generator_(std::move(generator)), split_(split), size_(size), name_(std::move(name)) {}

  size_t size() const override { return static_cast<size_t>(size_); }

  Sample load(size_t index) const override {
    check(index);
    const auto i = static_cast<int64_t>(index);
    Sample s;
    s.image = generator_->image(split_, i);
    s.label = generator_->label(split_, i);
    s.index = i;
    s.source = "synthetic_leaves:" + name_ + ":" + std::to_string(index);
    return s;
  }

  int64_t label(size_t index) const override {
    check(index);
    return generator_->label(split_, static_cast<int64_t>(index));
  }

 private:
  void check(size_t index) const {
    if (index >= size())
      throw std::out_of_range("synthetic_leaves " + name_ + ": index " + std::to_string(index) +
                              " out of range (size " + std::to_string(size_) + ")");
  }
  std::shared_ptr<const SyntheticLeavesGenerator> generator_;
  int64_t split_, size_;
  std::string name_;
};

class SyntheticLeaves : public Dataset {
 public:
  static Schema schema() {
    return Schema("Generated leaves for two-level classification: 4 species (shape, hue) x 2-5 diseases (lesion "
                  "pattern), 14 classes \"species/disease\", RGB")
        .tasks({"hierarchical"})
        .add_int("seed", 0, "generator seed: the data, independent of the run seed").min(0)
        .add_int("image_size", 64, "image side in pixels").range(16, 1024)
        .add_int("train_size", 2000, "images in the train split").range(0, 10000000)
        .add_int("val_size", 400, "images in the val split").range(0, 10000000)
        .add_int("test_size", 400, "images in the test split").range(0, 10000000)
        .add_float("noise", 0.04, "pixel noise standard deviation (image in [0,1])").range(0.0, 1.0)
        .add_float("lesion_contrast", 1.0, "strength of the lesion colours; lower = harder").range(0.0, 1.0);
  }

  explicit SyntheticLeaves(const Params& p) {
    SyntheticLeavesOptions o;
    o.seed = static_cast<uint64_t>(p.get_int("seed"));
    o.image_size = p.get_int("image_size");
    o.noise = p.get_float("noise");
    o.lesion_contrast = p.get_float("lesion_contrast");
    generator_ = std::make_shared<SyntheticLeavesGenerator>(o);
    sizes_ = {p.get_int("train_size"), p.get_int("val_size"), p.get_int("test_size")};
  }

  DatasetInfo info() const override {
    DatasetInfo info;
    info.task = Task::Classification;
    info.class_names = SyntheticLeavesGenerator::class_names();
    info.num_classes = static_cast<int64_t>(info.class_names.size());
    info.channels = 3;
    return info;
  }

  std::shared_ptr<Split> split(const std::string& name) override {
    static const char* kNames[] = {"train", "val", "test"};
    for (int64_t i = 0; i < 3; ++i)
      if (name == kNames[i]) {
        if (sizes_[i] == 0) throw ConfigError("synthetic_leaves: split '" + name + "' has size 0");
        return std::make_shared<SyntheticLeavesSplit>(generator_, i, sizes_[i], name);
      }
    throw ConfigError("synthetic_leaves has no split '" + name + "' (it has train, val, test)");
  }

 private:
  std::shared_ptr<const SyntheticLeavesGenerator> generator_;
  std::vector<int64_t> sizes_;
};

}  // namespace
}  // namespace xp::hierarchical

XP_REGISTER_DATASET("synthetic_leaves", xp::hierarchical::SyntheticLeaves);
