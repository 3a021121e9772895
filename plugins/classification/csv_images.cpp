// Images listed in CSV files, one per split: a path column and a label column holding either class
// names or class indices. Relative paths are resolved against `root` (default: the CSV's folder).
// With a group column (species, disease for hierarchical classification) a class is the pair,
// named "group/label" (docs/plugins.md, class_groups).
#include <xp/plugin.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>

#include "image_file.h"
#include "split_carving.h"

namespace {

namespace fs = std::filesystem;

// One CSV record (RFC 4180: quoted fields may hold commas and doubled quotes). Returns false on an
// unterminated quote so the caller can report the line.
bool parse_csv_line(const std::string& line, std::vector<std::string>& fields) {
  fields.assign(1, "");
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') fields.back() += '"', ++i;
      else if (c == '"') quoted = false;
      else fields.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  for (auto& f : fields) {  // surrounding blanks are never meaningful in a path or a label
    f.erase(0, f.find_first_not_of(" \t"));
    f.erase(f.find_last_not_of(" \t") + 1);
  }
  return !quoted;
}

bool is_index(const std::string& s) {
  return !s.empty() && s.size() < 10 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

struct Row {
  std::string path, label, where;  // where = "file:line"; label is "group/label" with a group column
};

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
    const std::string root = p.get_string("root");
    std::map<std::string, std::vector<Row>> rows;
    for (const char* split : {"train", "val", "test"}) {
      std::string csv = p.get_string(std::string(split) + "_csv");
      if (!csv.empty()) rows[split] = read_csv(csv, root, p);
    }
    if (rows.empty()) throw xp::ConfigError("csv_images: set at least one of train_csv, val_csv, test_csv");

    classes_ = p.get_strings("class_names");
    bool numeric = classes_.empty();
    for (const auto& [split, list] : rows)
      for (const auto& r : list) numeric = numeric && is_index(r.label);
    if (numeric) {
      int64_t max_index = -1;
      for (const auto& [split, list] : rows)
        for (const auto& r : list) max_index = std::max<int64_t>(max_index, std::stoll(r.label));
      for (int64_t i = 0; i <= max_index; ++i) classes_.push_back(std::to_string(i));
    } else if (classes_.empty()) {
      // Names come from the training CSV only, so a typo in val/test is an error, not a new class.
      const auto& source = rows.count("train") ? rows["train"] : rows.begin()->second;
      std::set<std::string> names;
      for (const auto& r : source) names.insert(r.label);
      classes_.assign(names.begin(), names.end());
    }

    const auto seed = static_cast<uint64_t>(p.get_int("split_seed"));
    for (auto& [split, list] : rows) {
      std::vector<std::string> paths;
      std::vector<int64_t> labels;
      for (auto& r : list) {
        labels.push_back(class_index(r));
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
    i.channels = decode_.channels;
    return i;
  }

  std::shared_ptr<xp::Split> split(const std::string& name) override {
    auto it = splits_.find(name);
    if (it == splits_.end())
      throw xp::ConfigError("csv_images has no split '" + name + "' (set " + name + "_csv)");
    return it->second;
  }

 private:
  static std::vector<Row> read_csv(const std::string& csv, const std::string& root, const xp::Params& p) {
    std::ifstream in(csv);
    if (!in) throw xp::ConfigError("csv_images: cannot open " + csv);
    const fs::path base = root.empty() ? fs::path(csv).parent_path() : fs::path(root);
    const bool grouped = !p.get_string("group_column").empty();
    size_t path_col = 0, label_col = 1, group_col = 2, line_no = 0;
    std::vector<std::string> fields;
    std::vector<Row> rows;
    std::string line;
    while (std::getline(in, line)) {
      ++line_no;
      if (line_no == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // UTF-8 BOM from spreadsheets
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const std::string where = csv + ":" + std::to_string(line_no);
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      if (!parse_csv_line(line, fields)) throw xp::ConfigError("csv_images: unterminated quote", where);
      if (line_no == 1 && p.get_bool("header")) {
        path_col = column(fields, p.get_string("path_column"), where);
        label_col = column(fields, p.get_string("label_column"), where);
        if (grouped) group_col = column(fields, p.get_string("group_column"), where);
        continue;
      }
      const size_t needed = std::max({path_col, label_col, grouped ? group_col : 0}) + 1;
      if (fields.size() < needed)
        throw xp::ConfigError("csv_images: expected at least " + std::to_string(needed) + " columns, found " +
                                  std::to_string(fields.size()),
                              where);
      Row r{fields[path_col], fields[label_col], where};
      if (r.path.empty()) throw xp::ConfigError("csv_images: empty image path", where);
      if (r.label.empty()) throw xp::ConfigError("csv_images: empty label", where);
      if (grouped) {
        if (fields[group_col].empty()) throw xp::ConfigError("csv_images: empty group", where);
        r.label = fields[group_col] + "/" + r.label;
      }
      if (fs::path(r.path).is_relative()) r.path = (base / r.path).string();
      rows.push_back(std::move(r));
    }
    if (rows.empty()) throw xp::ConfigError("csv_images: " + csv + " lists no images");
    return rows;
  }

  static size_t column(const std::vector<std::string>& header, const std::string& name, const std::string& where) {
    auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) {
      std::string have;
      for (const auto& h : header) have += (have.empty() ? "" : ", ") + h;
      throw xp::ConfigError("csv_images: no column '" + name + "' in the header (columns: " + have + ")", where);
    }
    return static_cast<size_t>(it - header.begin());
  }

  int64_t class_index(const Row& r) const {
    auto it = std::find(classes_.begin(), classes_.end(), r.label);
    if (it != classes_.end()) return it - classes_.begin();
    if (is_index(r.label) && std::stoll(r.label) < static_cast<int64_t>(classes_.size())) return std::stoll(r.label);
    throw xp::ConfigError("csv_images: label '" + r.label + "' is not one of the " + std::to_string(classes_.size()) +
                              " classes (" + (classes_.size() <= 10 ? join(classes_) : join(std::vector<std::string>(classes_.begin(), classes_.begin() + 10)) + ", ...") + ")",
                          r.where);
  }

  static std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  }

  xp::classification::DecodeOptions decode_;
  std::vector<std::string> classes_;
  std::map<std::string, std::shared_ptr<xp::Split>> splits_;
};

}  // namespace

XP_REGISTER_DATASET("csv_images", CsvImages);
