// `rare_blobs`: a synthetic rare-object segmentation dataset generated on the fly (see
// rare_blobs_generator.h and docs/segmentation.md for the calibration of its defaults).
#include <algorithm>

#include "rare_blobs_generator.h"
#include "xp/base/suggest.h"
#include "xp/plugin.h"
#include "xp/raster/band_set.h"

namespace xp::seg {
namespace {

const std::vector<std::string> kBandNames = {"red", "green", "blue", "dem", "noise"};

class RareBlobsSplit : public Split {
 public:
  RareBlobsSplit(std::shared_ptr<const RareBlobsGenerator> generator, int64_t split, int64_t size, std::string name,
                 std::vector<std::string> bands)
      : generator_(std::move(generator)), split_(split), size_(size), name_(std::move(name)), bands_(std::move(bands)) {}

  size_t size() const override { return static_cast<size_t>(size_); }

  Sample load(size_t index) const override {
    check(index);
    auto blobs = generator_->layout(split_, static_cast<int64_t>(index));
    Sample s;
    s.image = render(static_cast<int64_t>(index), blobs);
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
  // The requested bands in order; RGB alone stays the 8-bit tile it always was.
  cv::Mat render(int64_t index, const std::vector<Blob>& blobs) const {
    static const std::vector<std::string> kRgb = {"red", "green", "blue"};
    cv::Mat rgb;
    if (bands_ == kRgb || std::any_of(bands_.begin(), bands_.end(), [](const std::string& b) { return b == "red" || b == "green" || b == "blue"; }))
      rgb = generator_->image(split_, index, blobs);
    if (bands_ == kRgb) return rgb;
    std::vector<cv::Mat> rgb_planes, planes;
    if (!rgb.empty()) cv::split(rgb, rgb_planes);
    for (const auto& band : bands_) {
      if (band == "red") planes.push_back(rgb_planes[0]);
      else if (band == "green") planes.push_back(rgb_planes[1]);
      else if (band == "blue") planes.push_back(rgb_planes[2]);
      else if (band == "dem") planes.push_back(generator_->dem(split_, index, blobs));
      else planes.push_back(generator_->noise_band(split_, index));
    }
    return raster::merge_bands(planes);  // 16-bit as soon as dem or noise is in
  }

  void check(size_t index) const {
    if (index >= size()) throw std::out_of_range("rare_blobs " + name_ + ": index " + std::to_string(index) +
                                                 " out of range (size " + std::to_string(size_) + ")");
  }
  std::shared_ptr<const RareBlobsGenerator> generator_;
  int64_t split_, size_;
  std::string name_;
  std::vector<std::string> bands_;
};

class RareBlobs : public Dataset {
 public:
  static Schema schema() {
    return Schema("Synthetic rare-object segmentation: textured tiles, small subtle blobs (~0.3% of pixels) "
                  "and look-alike distractors, generated on the fly")
        .tasks({"segmentation"})
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
        .add_float("signal", 1.0, "strength of the object signature; lower = harder").range(0.0, 10.0)
        .add_strings("bands", {"red", "green", "blue"},
                     "bands in order, of red, green, blue (8-bit), dem (16-bit terrain, objects are shallow "
                     "depressions), noise (16-bit, no signal); with dem or noise every band is 16-bit")
        .add_float("dem_depth", 30.0, "dem: depth of an object's depression in 0.1 m units").range(0.0, 10000.0)
        .add_float("dem_noise", 10.0, "dem: pixel noise std in 0.1 m units").range(0.0, 10000.0)
        .add_float("dem_sinks", 1.0, "dem: mean natural depressions per tile that are not objects").range(0.0, 16.0)
        .add_string("dem_elevation", "absolute",
                    "dem: absolute (elevation in 0.1 m units, each tile ~1500-2500 m) or relative (each pixel minus "
                    "the mean of the dem_window x dem_window pixels around it, + 32768: local relief only)")
        .choices({"absolute", "relative"})
        .add_int("dem_window", 15, "dem_elevation = relative: side of the local-mean window in pixels (made odd)")
        .range(3, 1025);
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
    o.dem_depth = p.get_float("dem_depth");
    o.dem_noise = p.get_float("dem_noise");
    o.dem_sinks = p.get_float("dem_sinks");
    o.dem_relative = p.get_string("dem_elevation") == "relative";
    o.dem_window = p.get_int("dem_window");
    bands_ = p.get_strings("bands");
    if (bands_.empty()) throw ConfigError("rare_blobs: bands needs at least one band", p.where());
    for (size_t i = 0; i < bands_.size(); ++i) {
      if (std::find(kBandNames.begin(), kBandNames.end(), bands_[i]) == kBandNames.end())
        throw ConfigError("rare_blobs: no band '" + bands_[i] + "' (it has red, green, blue, dem, noise)" +
                              did_you_mean(bands_[i], kBandNames),
                          p.where());
      if (std::count(bands_.begin(), bands_.end(), bands_[i]) > 1)
        throw ConfigError("rare_blobs: band '" + bands_[i] + "' is listed twice", p.where());
    }
    generator_ = std::make_shared<RareBlobsGenerator>(o);
    sizes_ = {p.get_int("train_size"), p.get_int("val_size"), p.get_int("test_size")};
  }

  DatasetInfo info() const override {
    DatasetInfo info;
    info.task = Task::Segmentation;
    info.num_classes = 1;
    info.class_names = {"object"};
    info.channels = static_cast<int64_t>(bands_.size());
    info.band_names = bands_;
    return info;
  }

  std::shared_ptr<Split> split(const std::string& name) override {
    static const char* kNames[] = {"train", "val", "test"};
    for (int64_t i = 0; i < 3; ++i)
      if (name == kNames[i]) return std::make_shared<RareBlobsSplit>(generator_, i, sizes_[i], name, bands_);
    throw ConfigError("rare_blobs has no split '" + name + "' (it has train, val, test)");
  }

 private:
  std::shared_ptr<const RareBlobsGenerator> generator_;
  std::vector<int64_t> sizes_;
  std::vector<std::string> bands_;
};

}  // namespace
}  // namespace xp::seg

XP_REGISTER_DATASET("rare_blobs", xp::seg::RareBlobs);
