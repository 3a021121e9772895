#pragma once
#include <filesystem>
#include <string>

namespace xp {

std::string sha256_hex(const std::string& data);
// Streams the file; throws std::runtime_error if it cannot be read.
std::string sha256_file(const std::filesystem::path& file);

}  // namespace xp
