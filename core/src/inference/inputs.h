#pragma once
// What `xp predict` reads: image files, folders (recursive, image extensions only, sorted) and CSV
// files with a path column (paths relative to the CSV's folder), in the order given.

#include <string>
#include <vector>

namespace xp::inference {

struct InputList {
  std::vector<std::string> paths;    // to predict, in order
  std::vector<std::string> missing;  // arguments that name nothing (reported as skipped)
};

// Throws xp::ConfigError for a CSV without the column (did-you-mean over its header) or one that
// cannot be read (the OS's reason).
InputList expand_inputs(const std::vector<std::string>& args, const std::string& path_column = "path");

bool has_image_extension(const std::string& path);

// sha256 over the paths, sizes and modification times: identifies the input set of a job.
std::string inputs_fingerprint(const std::vector<std::string>& paths);

}  // namespace xp::inference
