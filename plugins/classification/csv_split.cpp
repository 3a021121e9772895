#include "csv_split.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>

#include "xp/errors.h"

namespace xp::classification {

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

// A class index as written in a CSV: digits only, at most 9 of them (so std::stoll cannot throw).
bool is_index(const std::string& s) {
  return !s.empty() && s.size() < 10 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

size_t column(const std::vector<std::string>& header, const std::string& name, const std::string& where) {
  auto it = std::find(header.begin(), header.end(), name);
  if (it == header.end()) {
    std::string have;
    for (const auto& h : header) have += (have.empty() ? "" : ", ") + h;
    throw xp::ConfigError("csv_images: no column '" + name + "' in the header (columns: " + have + ")", where);
  }
  return static_cast<size_t>(it - header.begin());
}

constexpr int64_t kMaxIndexClasses = 100000;

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

std::vector<CsvRow> read_csv_split(const std::string& csv, const CsvLayout& layout) {
  std::ifstream in(csv);
  if (!in) throw xp::ConfigError("csv_images: cannot open " + csv);
  const fs::path base = layout.root.empty() ? fs::path(csv).parent_path() : fs::path(layout.root);
  const bool grouped = !layout.group_column.empty();
  size_t path_col = 0, label_col = 1, group_col = 2, line_no = 0;
  bool header_pending = layout.header;  // the first non-blank line, when there is a header
  std::vector<std::string> fields;
  std::vector<CsvRow> rows;
  std::string line;
  while (std::getline(in, line)) {
    ++line_no;
    if (line_no == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // UTF-8 BOM from spreadsheets
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string where = csv + ":" + std::to_string(line_no);
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (!parse_csv_line(line, fields)) throw xp::ConfigError("csv_images: unterminated quote", where);
    if (header_pending) {
      header_pending = false;
      path_col = column(fields, layout.path_column, where);
      label_col = column(fields, layout.label_column, where);
      if (grouped) group_col = column(fields, layout.group_column, where);
      continue;
    }
    const size_t needed = std::max({path_col, label_col, grouped ? group_col : 0}) + 1;
    if (fields.size() < needed)
      throw xp::ConfigError("csv_images: expected at least " + std::to_string(needed) + " columns, found " +
                                std::to_string(fields.size()),
                            where);
    CsvRow r{fields[path_col], fields[label_col], where};
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

std::vector<std::string> csv_class_names(const std::map<std::string, std::vector<CsvRow>>& splits,
                                         const std::vector<std::string>& given) {
  std::vector<std::string> classes = given;
  bool numeric = classes.empty();
  for (const auto& [split, list] : splits)
    for (const auto& r : list) numeric = numeric && is_index(r.label);
  if (numeric) {
    int64_t max_index = -1;
    const CsvRow* max_row = nullptr;
    for (const auto& [split, list] : splits)
      for (const auto& r : list)
        if (std::stoll(r.label) > max_index) max_index = std::stoll(r.label), max_row = &r;
    // Every index below the largest is a class: a stray "999999999" would make a billion of them.
    if (max_index >= kMaxIndexClasses)
      throw xp::ConfigError("csv_images: label " + max_row->label + " as a class index means " +
                                std::to_string(max_index + 1) + " classes (at most " +
                                std::to_string(kMaxIndexClasses) + "; set class_names if labels are names)",
                            max_row->where);
    for (int64_t i = 0; i <= max_index; ++i) classes.push_back(std::to_string(i));
  } else if (classes.empty() && !splits.empty()) {
    // Names come from the training CSV only, so a typo in val/test is an error, not a new class.
    auto train = splits.find("train");
    const auto& source = train != splits.end() ? train->second : splits.begin()->second;
    std::set<std::string> names;
    for (const auto& r : source) names.insert(r.label);
    classes.assign(names.begin(), names.end());
  }
  return classes;
}

int64_t csv_class_index(const CsvRow& r, const std::vector<std::string>& classes) {
  auto it = std::find(classes.begin(), classes.end(), r.label);
  if (it != classes.end()) return it - classes.begin();
  if (is_index(r.label) && std::stoll(r.label) < static_cast<int64_t>(classes.size())) return std::stoll(r.label);
  throw xp::ConfigError("csv_images: label '" + r.label + "' is not one of the " + std::to_string(classes.size()) +
                            " classes (" +
                            (classes.size() <= 10
                                 ? join(classes)
                                 : join(std::vector<std::string>(classes.begin(), classes.begin() + 10)) + ", ...") +
                            ")",
                        r.where);
}

}  // namespace xp::classification
