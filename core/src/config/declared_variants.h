#pragma once
// The variants an experiment file declares, in the order it writes them (through `extends`), for
// what `xp report` compares against when not told: the variant declared first. Its own header so
// that the run recorder reads it without the resolver's (run_spec.h) dependants.
#include <filesystem>
#include <string>
#include <vector>

namespace xp::config {

// Empty when the file has no [variants] or is not an experiment file (a run's recorded config);
// throws xp::ConfigError when it cannot be parsed.
std::vector<std::string> declared_variants(const std::filesystem::path& file);

}  // namespace xp::config
