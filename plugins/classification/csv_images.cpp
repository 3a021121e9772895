// Images listed in CSV files, one per split: a path column and a label column holding either class
// names or class indices. Relative paths are resolved against `root` (default: the CSV's folder).
// With a group column (species, disease for hierarchical classification) a class is the pair,
// named "group/label" (docs/plugins.md, class_groups).
#include <xp/plugin.h>

#include "csv_split.h"
#include "image_file.h"
#include "split_carving.h"

namespace {

using xp::classification::CsvRow;

class CsvImages : public xp::Dataset {
 public:
  static xp::Schema schema() {
    xp::Schema s("Images listed in CSV files (path, label) per split; labels are class names or indices");
    s.tasks({"classification", "hierarchical"});  // hierarchical with a group_column
    s.add_string("train_csv", "", "CSV of the training images (\"\" = no train split)")
        .add_string("val_csv", "", "CSV of the validation images (\"\" = none)")
        .add_string("test_csv", "", "CSV of the test images (\"\" = none)")
        .add_string("root", "", "folder that relative image paths start from (\"\" = each CSV's folder)")
        .add_bool("header", true, "the first line names the columns")
        .add_string("path_column", "path", "column with the image path (header = true; else column 1)")
        .add_string("label_column", "label", "column with the class name or index (header = true; else column 2)")
        .add_string("group_column", "", "column with the group of the class, e.g. species next to a disease "
                                        "label: classes become \"group/label\" (\"\" = none; header = false: "
                                        "any text = column 3)")
        .add_strings("class_names", {}, "class names in index order (empty = sorted names from the train CSV, "
                                        "or indices when every label is a number)")
        .add_int("limit", 0, "at most this many samples per split, seeded (0 = all)").min(0)
        .add_int("split_seed", 0, "seed of the `limit` draw").min(0);
    xp::classification::DecodeOptions::add_to(s);
    return s;
  }

  explicit CsvImages(const xp::Params& p) : decode_(xp::classification::DecodeOptions::from(p)) {
    xp::classification::CsvLayout layout;
    layout.root = p.get_string("root");
    layout.header = p.get_bool("header");
    layout.path_column = p.get_string("path_column");
    layout.label_column = p.get_string("label_column");
    layout.group_column = p.get_string("group_column");
    std::map<std::string, std::vector<CsvRow>> rows;
    for (const char* split : {"train", "val", "test"}) {
      std::string csv = p.get_string(std::string(split) + "_csv");
      if (!csv.empty()) rows[split] = xp::classification::read_csv_split(csv, layout);
    }
    if (rows.empty()) throw xp::ConfigError("csv_images: set at least one of train_csv, val_csv, test_csv");

    classes_ = xp::classification::csv_class_names(rows, p.get_strings("class_names"));

    const auto seed = static_cast<uint64_t>(p.get_int("split_seed"));
    for (auto& [split, list] : rows) {
      std::vector<std::string> paths;
      std::vector<int64_t> labels;
      for (auto& r : list) {
        labels.push_back(xp::classification::csv_class_index(r, classes_));
        paths.push_back(std::move(r.path));
      }
      std::vector<size_t> keep(paths.size());
      for (size_t i = 0; i < keep.size(); ++i) keep[i] = i;
      keep = xp::classification::apply_limit(keep, p.get_int("limit"), seed);
      std::vector<std::string> kept_paths;
      std::vector<int64_t> kept_labels;
      for (size_t i : keep) kept_paths.push_back(paths[i]), kept_labels.push_back(labels[i]);
      splits_[split] = std::make_shared<xp::classification::ImageFileSplit>(std::move(kept_paths),
                                                                            std::move(kept_labels), decode_);
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
    if (it == splits_.end())
      throw xp::ConfigError("csv_images has no split '" + name + "' (set " + name + "_csv)");
    return it->second;
  }

 private:
  xp::classification::DecodeOptions decode_;
  std::vector<std::string> classes_;
  std::map<std::string, std::shared_ptr<xp::Split>> splits_;
};

}  // namespace

XP_REGISTER_DATASET("csv_images", CsvImages);
