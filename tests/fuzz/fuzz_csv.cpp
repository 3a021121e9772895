// Fuzz target: the CSV split reader of the csv_images dataset (plugins/classification/csv_split):
// the rows of a train CSV (and a val CSV), the class list and every row's class index. Everything
// ends in rows with a valid class each, or an xp::ConfigError.
//
// Input layout: one byte of options (bit 0 header, bit 1 a group column, bit 2 class_names given,
// bit 3 a root folder), then the train CSV, optionally followed by a line "#--- val" and the val CSV.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "csv_split.h"
#include "xp/errors.h"

namespace {
namespace fs = std::filesystem;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fs::path dir = [] {
    auto d = fs::temp_directory_path() / ("xp_fuzz_csv_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  if (size < 1) return 0;
  const uint8_t options = data[0];
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t marker = text.find("\n#--- val\n");
  std::ofstream(dir / "train.csv", std::ios::binary | std::ios::trunc) << text.substr(0, marker);
  const bool has_val = marker != std::string::npos;
  if (has_val) std::ofstream(dir / "val.csv", std::ios::binary | std::ios::trunc) << text.substr(marker + 10);

  xp::classification::CsvLayout layout;
  layout.header = options & 1;
  if (options & 2) layout.group_column = "group";
  if (options & 8) layout.root = "/images";
  const std::vector<std::string> given =
      options & 4 ? std::vector<std::string>{"cat", "dog", "a/cat"} : std::vector<std::string>{};
  try {
    std::map<std::string, std::vector<xp::classification::CsvRow>> splits;
    splits["train"] = xp::classification::read_csv_split((dir / "train.csv").string(), layout);
    if (has_val) splits["val"] = xp::classification::read_csv_split((dir / "val.csv").string(), layout);
    for (const auto& [name, rows] : splits) {
      if (rows.empty()) __builtin_trap();
      for (const auto& r : rows)
        if (r.path.empty() || r.label.empty() || r.where.empty()) __builtin_trap();
    }
    const auto classes = xp::classification::csv_class_names(splits, given);
    for (const auto& [name, rows] : splits)
      for (const auto& r : rows) {
        const int64_t c = xp::classification::csv_class_index(r, classes);
        if (c < 0 || c >= static_cast<int64_t>(classes.size())) __builtin_trap();
      }
  } catch (const xp::ConfigError&) {
  }
  return 0;
}
