#pragma once
// IDX files, the format of MNIST and Fashion-MNIST (gzip'd or not: gzread passes plain files
// through). An image file is big-endian uint32 magic 0x803, count, rows, cols, then count * rows *
// cols pixels; a label file is magic 0x801, count, then count labels.
#include <cstdint>
#include <string>
#include <vector>

namespace xp::classification {

// One image file and its label file, held in memory.
struct IdxData {
  int64_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // count * rows * cols
  std::vector<uint8_t> labels;  // count, each < num_classes
};

// Reads both files. A missing, truncated or foreign file, an empty or implausibly sized one, files
// that disagree on the count, or a label >= num_classes is an xp::ConfigError that names the file
// (prefixed with `who`, the dataset). Memory grows with what the file really holds, never with what
// its header claims, so a corrupt count cannot ask for terabytes.
IdxData read_idx_pair(const std::string& images_path, const std::string& labels_path, int num_classes,
                      const std::string& who);

}  // namespace xp::classification
