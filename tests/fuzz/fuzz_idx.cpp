// Fuzz target: the IDX reader of the Fashion-MNIST dataset (plugins/classification/idx_file), on an
// image file and a label file, plain or gzip'd. Both are read, or refused with xp::ConfigError;
// memory follows what the files hold, never what a corrupt header claims.
//
// Input layout: the image file, then the label file, which starts at the last label-file magic
// (00 00 08 01) of the input; without one, the label file is empty.
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "idx_file.h"
#include "xp/errors.h"

namespace {
namespace fs = std::filesystem;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fs::path dir = [] {
    auto d = fs::temp_directory_path() / ("xp_fuzz_idx_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  const std::string text(reinterpret_cast<const char*>(data), size);
  const size_t split = std::min(text.rfind(std::string("\0\0\x08\x01", 4)), text.size());
  const fs::path images = dir / "images-idx3-ubyte", labels = dir / "labels-idx1-ubyte";
  std::ofstream(images, std::ios::binary | std::ios::trunc) << text.substr(0, split);
  std::ofstream(labels, std::ios::binary | std::ios::trunc) << text.substr(split);
  try {
    auto idx = xp::classification::read_idx_pair(images.string(), labels.string(), 10, "fuzz");
    if (idx.count <= 0 || idx.rows <= 0 || idx.cols <= 0) __builtin_trap();
    if (idx.pixels.size() != static_cast<size_t>(idx.count * idx.rows * idx.cols)) __builtin_trap();
    if (idx.labels.size() != static_cast<size_t>(idx.count)) __builtin_trap();
    for (uint8_t l : idx.labels)
      if (l >= 10) __builtin_trap();
  } catch (const xp::ConfigError& e) {
    // Every refusal names one of the two files.
    const std::string what = e.what();
    if (what.find(images.string()) == std::string::npos && what.find(labels.string()) == std::string::npos)
      __builtin_trap();
  }
  return 0;
}
