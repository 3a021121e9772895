#pragma once
// The safetensors format (huggingface/safetensors), written directly: an 8-byte little-endian
// header length, a JSON header {"__metadata__": {...}, name: {"dtype", "shape", "data_offsets"}}
// padded with spaces to a multiple of 8 bytes, then the tensors' raw little-endian bytes, in order.

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

namespace xp::exporting {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// "F32", "I64", ...; throws xp::ConfigError for a dtype safetensors has no name for.
std::string safetensors_dtype(c10::ScalarType type);

// Writes atomically (temporary file, then rename). Names must be unique and non-empty.
// Throws xp::ConfigError with the OS's reason when the file cannot be written.
void write_safetensors(const std::filesystem::path& file, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Reads a file written by any safetensors writer back (tests, and checking an export).
NamedTensors read_safetensors(const std::filesystem::path& file, std::map<std::string, std::string>* metadata = nullptr);

}  // namespace xp::exporting
