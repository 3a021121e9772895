// `rare_blobs`: a synthetic rare-object segmentation dataset generated on the fly (see
// rare_blobs_generator.h and docs/segmentation.md for the calibration of its defaults).
#include "rare_blobs_generator.h"
#include "xp/plugin.h"

namespace xp::seg {
namespace {

class RareBlobsSplit : public Split {
 public:
  RareBlobsSplit(std::shared_ptr<const RareBlobsGenerator> generator, int64_t split, int64_t size, std::string name)
      : generator_(std::move(generator)), split_(split), size_(size), name_(std::move(name)) {}

  size_t size() const override { return static_cast<size_t>(size_); }

  Sample load(size_t index) const override {
    check(index);
    auto blobs = generator_->layout(split_, static_cast<int64_t>(index));
    Sample s;
    s.image = generator_->image(split_, static_cast<int64_t>(index), blobs);
    s.mask = generator_->mask(blobs);
    s.label = cv::countNonZero(s.mask) > 0 ? 1 : 0;
    s.index = static_cast<int64_t>(index);
    s.source = "rare_blobs:" + name_ + ":" + std::to_string(index);
    return s;
  }

  int64_t label(size_t index) const override {
    check(index);
    return cv::countNonZero(generator_->mask(generator_->layout(split_, static_cast<int64_t>(index)))) > 0 ? 1 : 0;
  }

 private:
  void check(size_t index) const {
    if (index >= size()) throw std::out_of_range("rare_blobs " + name_ + ": index " + std::to_string(index) +
                                                 " out of range (size " + std::to_string(size_) + ")");
  }
  std::shared_ptr<const RareBlobsGenerator> generator_;
  int64_t split_, size_;
  std::string name_;
};

class RareBlobs : public Dataset {
 public:
  static Schema schema() {
    return Schema("Synthetic rare-object segmentation: textured tiles, small subtle blobs (~0.3% of pixels) "
                  "and look-alike distractors, generated on the fly")
        .add_int("seed", 0, "generator seed: the data, independent of the run seed").min(0)
        .add_int("image_size", 64, "tile side in pixels").range(16, 1024)
        .add_int("train_size", 400, "tiles in the train split").range(0, 10000000)
        .add_int("val_size", 100, "tiles in the val split").range(0, 10000000)
        .add_int("test_size", 100, "tiles in the test split").range(0, 10000000)
        .add_float("positive_fraction", 0.003, "target share of positive pixels over a split").range(1e-5, 0.2)
        .add_float("object_tile_fraction", 0.3, "share of tiles holding objects").range(0.0, 1.0)
        .add_int("max_objects", 2, "objects per object tile, uniform in 1..max_objects").range(1, 16)
        .add_float("distractor_rate", 1.0, "mean look-alikes per tile (shape-only, colour-only)").range(0.0, 16.0)
        .add_float("noise", 0.03, "pixel noise standard deviation (image in [0,1])").range(0.0, 1.0)
        .add_float("signal", 1.0, "strength of the object signature; lower = harder").range(0.0, 10.0);
  }

  explicit RareBlobs(const Params& p) {
    RareBlobsOptions o;
    o.seed = static_cast<uint64_t>(p.get_int("seed"));
    o.image_size = p.get_int("image_size");
    o.positive_fraction = p.get_float("positive_fraction");
    o.object_tile_fraction = p.get_float("object_tile_fraction");
    o.max_objects = p.get_int("max_objects");
    o.distractor_rate = p.get_float("distractor_rate");
    o.noise = p.get_float("noise");
    o.signal = p.get_float("signal");
    generator_ = std::make_shared<RareBlobsGenerator>(o);
    sizes_ = {p.get_int("train_size"), p.get_int("val_size"), p.get_int("test_size")};
  }

  DatasetInfo info() const override {
    DatasetInfo info;
    info.task = Task::Segmentation;
    info.num_classes = 1;
    info.class_names = {"object"};
    info.channels = 3;
    return info;
  }

  std::shared_ptr<Split> split(const std::string& name) override {
    static const char* kNames[] = {"train", "val", "test"};
    for (int64_t i = 0; i < 3; ++i)
      if (name == kNames[i]) return std::make_shared<RareBlobsSplit>(generator_, i, sizes_[i], name);
    throw ConfigError("rare_blobs has no split '" + name + "' (it has train, val, test)");
  }

 private:
  std::shared_ptr<const RareBlobsGenerator> generator_;
  std::vector<int64_t> sizes_;
};

}  // namespace
}  // namespace xp::seg

XP_REGISTER_DATASET("rare_blobs", xp::seg::RareBlobs);
