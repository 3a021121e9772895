// Fashion-MNIST (Xiao et al. 2017) from its IDX files, gzip'd or not (Debian's
// dataset-fashion-mnist installs them under /usr/share/datasets/fashion-mnist). The validation
// split is carved from the 60000 training images, stratified and seeded by split_seed.
#include <xp/plugin.h>

#include <filesystem>
#include <mutex>

#include "idx_file.h"
#include "split_carving.h"

namespace {

namespace fs = std::filesystem;

using xp::classification::IdxData;

std::string find_file(const fs::path& root, const std::string& base) {
  for (const std::string& name : {base, base + ".gz"})
    if (fs::is_regular_file(root / name)) return (root / name).string();
  throw xp::ConfigError("fashion_mnist: neither " + base + " nor " + base + ".gz in " + root.string() +
                        " (install the Debian package dataset-fashion-mnist, or set root)");
}

// One IDX file pair held in memory: 47 MB for the training images, read once.
std::shared_ptr<const IdxData> read_idx_pair(const fs::path& root, const std::string& prefix) {
  const std::string images = find_file(root, prefix + "-images-idx3-ubyte");
  const std::string labels = find_file(root, prefix + "-labels-idx1-ubyte");
  return std::make_shared<const IdxData>(xp::classification::read_idx_pair(images, labels, 10, "fashion_mnist"));
}

class IdxSplit : public xp::Split {
 public:
  IdxSplit(std::shared_ptr<const IdxData> data, std::vector<size_t> rows, std::string name)
      : data_(std::move(data)), rows_(std::move(rows)), name_(std::move(name)) {}
  size_t size() const override { return rows_.size(); }
  int64_t label(size_t index) const override { return data_->labels[rows_.at(index)]; }
  xp::Sample load(size_t index) const override {
    const size_t row = rows_.at(index);
    const size_t pixels = static_cast<size_t>(data_->rows * data_->cols);
    xp::Sample s;
    // Wrap then clone: the sample owns its pixels, the shared buffer stays read-only.
    s.image = cv::Mat(static_cast<int>(data_->rows), static_cast<int>(data_->cols), CV_8UC1,
                      const_cast<uint8_t*>(data_->pixels.data() + row * pixels))
                  .clone();
    s.label = data_->labels[row];
    s.index = static_cast<int64_t>(index);
    s.source = "fashion_mnist:" + name_ + ":" + std::to_string(row);
    return s;
  }

 private:
  std::shared_ptr<const IdxData> data_;
  std::vector<size_t> rows_;
  std::string name_;
};

class FashionMnist : public xp::Dataset {
 public:
  static xp::Schema schema() {
    return xp::Schema("Fashion-MNIST: 28x28 grey images of 10 clothing classes; splits train, val (carved "
                      "from train), test")
        .tasks({"classification"})
        .add_string("root", "/usr/share/datasets/fashion-mnist", "folder with the four IDX files (.gz or not)")
        .add_float("val_fraction", 0.1, "fraction of the training images held out as val (stratified)").range(0.0, 0.9)
        .add_int("split_seed", 0, "seed of the train/val carving (independent of the run seed)").min(0)
        .add_int("limit", 0, "at most this many samples per split, drawn with split_seed (0 = all)").min(0);
  }

  explicit FashionMnist(const xp::Params& p)
      : root_(p.get_string("root")),
        val_fraction_(p.get_float("val_fraction")),
        seed_(static_cast<uint64_t>(p.get_int("split_seed"))),
        limit_(p.get_int("limit")) {
    if (!fs::is_directory(root_)) throw xp::ConfigError("fashion_mnist: root " + root_.string() + " is not a folder");
  }

  xp::DatasetInfo info() const override {
    xp::DatasetInfo i;
    i.task = xp::Task::Classification;
    i.num_classes = 10;
    i.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                     "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    i.channels = 1;
    return i;
  }

  std::shared_ptr<xp::Split> split(const std::string& name) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (name == "test") {
      if (!test_) test_ = read_idx_pair(root_, "t10k");
      std::vector<size_t> rows(static_cast<size_t>(test_->count));
      for (size_t i = 0; i < rows.size(); ++i) rows[i] = i;
      return std::make_shared<IdxSplit>(test_, xp::classification::apply_limit(rows, limit_, seed_), name);
    }
    if (name != "train" && name != "val")
      throw xp::ConfigError("fashion_mnist has no split '" + name + "' (it has train, val, test)");
    if (!train_) {
      train_ = read_idx_pair(root_, "train");
      std::vector<int64_t> labels(train_->labels.begin(), train_->labels.end());
      carved_ = xp::classification::carve_splits(labels, val_fraction_, 0.0, seed_);
    }
    const auto& rows = name == "train" ? carved_.train : carved_.val;
    if (rows.empty()) throw xp::ConfigError("fashion_mnist: split '" + name + "' is empty (val_fraction is 0)");
    return std::make_shared<IdxSplit>(train_, xp::classification::apply_limit(rows, limit_, seed_), name);
  }

 private:
  fs::path root_;
  double val_fraction_;
  uint64_t seed_;
  int64_t limit_;
  std::mutex mutex_;
  std::shared_ptr<const IdxData> train_, test_;
  xp::classification::CarvedSplits carved_;
};

}  // namespace

XP_REGISTER_DATASET("fashion_mnist", FashionMnist);
