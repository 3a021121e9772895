// Images sorted into one folder per class: root/<split>/<class>/* (train plus optional val|valid|
// validation and test folders), or root/<class>/* with val/test carved out, stratified and seeded.
// Class indices follow the sorted class folder names of the training images. With depth = 2 the
// classes are two levels deep, root/[<split>/]<group>/<class>/*, named "group/class" (species/
// disease for hierarchical classification: docs/plugins.md, class_groups).
#include <xp/plugin.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "image_file.h"
#include "split_carving.h"

namespace {

namespace fs = std::filesystem;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::vector<std::string> sorted_subfolders(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string()[0] != '.') names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

struct FileList {
  std::vector<std::string> paths;
  std::vector<int64_t> labels;

  FileList subset(const std::vector<size_t>& positions) const {
    FileList out;
    for (size_t i : positions) out.paths.push_back(paths[i]), out.labels.push_back(labels[i]);
    return out;
  }
};

class ImageFolder : public xp::Dataset {
 public:
  static xp::Schema schema() {
    xp::Schema s(
        "Images in one folder per class: root/<split>/<class>/* or root/<class>/*; class indices follow the "
        "sorted class folder names; depth = 2 for root/<group>/<class>/* classes named \"group/class\"");
    s.tasks({"classification", "hierarchical"});  // hierarchical with depth = 2
    s.add_required("root", xp::ParamType::String, "dataset folder")
        .add_float("val_fraction", 0.1, "fraction of each class carved from train as val, when there is no "
                                        "val/valid/validation folder").range(0.0, 0.9)
        .add_float("test_fraction", 0.1, "fraction of each class carved from train as test, when there is no "
                                         "test folder").range(0.0, 0.9)
        .add_int("split_seed", 0, "seed of the carving (independent of the run seed)").min(0)
        .add_strings("extensions", {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"},
                     "file extensions that count as images (case-insensitive)")
        .add_int("limit", 0, "at most this many samples per split, drawn with split_seed (0 = all)").min(0)
        .add_int("depth", 1, "folder levels that name the class: 1 = <class>, 2 = <group>/<class> (class "
                             "\"group/class\", e.g. species/disease)").range(1, 2);
    xp::classification::DecodeOptions::add_to(s);
    return s;
  }

  explicit ImageFolder(const xp::Params& p)
      : root_(p.get_string("root")),
        decode_(xp::classification::DecodeOptions::from(p)),
        limit_(p.get_int("limit")),
        depth_(p.get_int("depth")) {
    for (const auto& e : p.get_strings("extensions")) extensions_.push_back(lower(e));
    if (!fs::is_directory(root_)) throw xp::ConfigError("image_folder: root " + root_.string() + " is not a folder");
    const double val_fraction = p.get_float("val_fraction"), test_fraction = p.get_float("test_fraction");
    if (val_fraction + test_fraction >= 1.0)
      throw xp::ConfigError("image_folder: val_fraction + test_fraction must be below 1");
    const auto seed = static_cast<uint64_t>(p.get_int("split_seed"));

    fs::path train_dir = root_ / "train";
    const bool split_folders = fs::is_directory(train_dir);
    if (!split_folders) train_dir = root_;
    classes_ = class_folders(train_dir);
    if (classes_.empty())
      throw xp::ConfigError("image_folder: no class folders in " + train_dir.string() +
                            (depth_ == 1 ? " (expected root/<class>/* or root/train/<class>/*)"
                                         : " (depth = 2 expects root/<group>/<class>/* or root/train/<group>/<class>/*)"));
    FileList train = list_files(train_dir);

    fs::path val_dir, test_dir;
    if (split_folders) {
      for (const char* name : {"val", "valid", "validation"})
        if (fs::is_directory(root_ / name)) {
          val_dir = root_ / name;
          break;
        }
      if (fs::is_directory(root_ / "test")) test_dir = root_ / "test";
    }
    auto carved = xp::classification::carve_splits(train.labels, val_dir.empty() ? val_fraction : 0.0,
                                                   test_dir.empty() ? test_fraction : 0.0, seed);
    splits_["train"] = train.subset(carved.train);
    splits_["val"] = val_dir.empty() ? train.subset(carved.val) : list_files(val_dir);
    splits_["test"] = test_dir.empty() ? train.subset(carved.test) : list_files(test_dir);
    for (auto& [name, files] : splits_) {
      std::vector<size_t> all(files.paths.size());
      for (size_t i = 0; i < all.size(); ++i) all[i] = i;
      files = files.subset(xp::classification::apply_limit(all, limit_, seed));
    }
  }

  xp::DatasetInfo info() const override {
    xp::DatasetInfo i;
    i.task = xp::Task::Classification;
    i.num_classes = static_cast<int64_t>(classes_.size());
    i.class_names = classes_;
    i.channels = decode_.channel_count();
    i.band_names = decode_.channel_names();
    return i;
  }

  std::shared_ptr<xp::Split> split(const std::string& name) override {
    auto it = splits_.find(name);
    if (it == splits_.end()) throw xp::ConfigError("image_folder has no split '" + name + "' (it has train, val, test)");
    if (it->second.paths.empty())
      throw xp::ConfigError("image_folder: split '" + name + "' of " + root_.string() +
                            " has no images (no folder for it, and its fraction is 0?)");
    return std::make_shared<xp::classification::ImageFileSplit>(it->second.paths, it->second.labels, decode_);
  }

 private:
  // "class" (depth 1) or "group/class" (depth 2), sorted by group then class. A group folder
  // without class folders is an error: its images would silently have no class.
  std::vector<std::string> class_folders(const fs::path& dir) const {
    if (depth_ == 1) return sorted_subfolders(dir);
    std::vector<std::string> out;
    for (const auto& group : sorted_subfolders(dir)) {
      auto classes = sorted_subfolders(dir / group);
      if (classes.empty())
        throw xp::ConfigError("image_folder: depth = 2 but " + (dir / group).string() +
                              " has no class folders (expected <group>/<class>/*)");
      for (const auto& c : classes) out.push_back(group + "/" + c);
    }
    return out;
  }

  FileList list_files(const fs::path& dir) const {
    FileList out;
    for (const auto& class_name : class_folders(dir)) {
      // Not a binary search: "group/class" names are ordered by group first, which is not the
      // plain string order when a group name is a prefix of another ("ash" < "ash-tree").
      auto pos = std::find(classes_.begin(), classes_.end(), class_name);
      if (pos == classes_.end())
        throw xp::ConfigError("image_folder: class folder " + (dir / class_name).string() +
                              " has no counterpart among the training classes");
      std::vector<std::string> files;
      for (const auto& e : fs::directory_iterator(dir / class_name)) {
        if (!e.is_regular_file() || e.path().filename().string()[0] == '.') continue;
        if (std::find(extensions_.begin(), extensions_.end(), lower(e.path().extension().string())) != extensions_.end())
          files.push_back(e.path().string());
      }
      std::sort(files.begin(), files.end());
      for (auto& f : files) out.paths.push_back(std::move(f)), out.labels.push_back(pos - classes_.begin());
    }
    return out;
  }

  fs::path root_;
  xp::classification::DecodeOptions decode_;
  int64_t limit_;
  int64_t depth_;
  std::vector<std::string> extensions_;
  std::vector<std::string> classes_;
  std::map<std::string, FileList> splits_;
};

}  // namespace

XP_REGISTER_DATASET("image_folder", ImageFolder);
