#pragma once
// The CSV files of the csv_images dataset: one per split, a path column and a label column (class
// names or indices), optionally a group column (hierarchical classification: the class is
// "group/label"). RFC 4180 quoting; a UTF-8 BOM and CRLF line ends from spreadsheets are accepted.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace xp::classification {

struct CsvRow {
  std::string path, label, where;  // where = "file:line"; label is "group/label" with a group column
};

struct CsvLayout {
  std::string root;  // folder that relative paths start from ("" = the CSV's folder)
  bool header = true;
  std::string path_column = "path", label_column = "label", group_column;  // group "" = none
};

// The rows of one CSV file. Anything wrong (cannot open, unterminated quote, missing column, empty
// path/label/group, no rows at all) is an xp::ConfigError naming file:line.
std::vector<CsvRow> read_csv_split(const std::string& csv, const CsvLayout& layout);

// The class list: `given` when set (else the sorted names of the train split, or of the first
// split when there is none); "0".."max" when no names are given and every label is an index.
std::vector<std::string> csv_class_names(const std::map<std::string, std::vector<CsvRow>>& splits,
                                         const std::vector<std::string>& given);

// The index of a row's class; a label that is not a class is an xp::ConfigError naming file:line.
int64_t csv_class_index(const CsvRow& row, const std::vector<std::string>& classes);

}  // namespace xp::classification
