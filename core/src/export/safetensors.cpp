#include "export/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "xp/errors.h"

namespace xp::exporting {

namespace fs = std::filesystem;

namespace {

const std::vector<std::pair<c10::ScalarType, std::string>>& dtype_names() {
  static const std::vector<std::pair<c10::ScalarType, std::string>> names = {
      {torch::kFloat, "F32"}, {torch::kDouble, "F64"}, {torch::kHalf, "F16"}, {torch::kBFloat16, "BF16"},
      {torch::kLong, "I64"},  {torch::kInt, "I32"},    {torch::kShort, "I16"}, {torch::kChar, "I8"},
      {torch::kByte, "U8"},   {torch::kBool, "BOOL"}};
  return names;
}

}  // namespace

std::string safetensors_dtype(c10::ScalarType type) {
  for (const auto& [t, name] : dtype_names())
    if (t == type) return name;
  throw ConfigError(std::string("safetensors has no dtype for ") + c10::toString(type));
}

void write_safetensors(const fs::path& file, const NamedTensors& tensors, const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> data;
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty() || name == "__metadata__") throw ConfigError("safetensors: bad tensor name '" + name + "'");
    if (!seen.insert(name).second) throw ConfigError("safetensors: tensor '" + name + "' named twice");
    torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * static_cast<uint64_t>(t.element_size());
    header[name] = {{"dtype", safetensors_dtype(t.scalar_type())},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(t);
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw ConfigError(file.string() + ": cannot write: " + std::strerror(errno));
    uint64_t n = text.size();
    unsigned char le[8];
    for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>((n >> (8 * i)) & 0xff);
    out.write(reinterpret_cast<const char*>(le), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    // Tensors are stored as the host holds them: every machine LibTorch runs on is little-endian.
    for (const auto& t : data)
      out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
    out.flush();
    if (!out) throw ConfigError(file.string() + ": write failed: " + std::strerror(errno));
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) throw ConfigError(file.string() + ": cannot write: " + ec.message());
}

NamedTensors read_safetensors(const fs::path& file, std::map<std::string, std::string>* metadata) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ConfigError(file.string() + ": cannot read: " + std::strerror(errno));
  unsigned char le[8];
  if (!in.read(reinterpret_cast<char*>(le), 8)) throw ConfigError(file.string() + ": not a safetensors file (too short)");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(le[i]) << (8 * i);
  const auto size = fs::file_size(file);
  if (n > size - 8) throw ConfigError(file.string() + ": not a safetensors file (header length " + std::to_string(n) + ")");
  std::string text(n, '\0');
  in.read(text.data(), static_cast<std::streamsize>(n));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw ConfigError(file.string() + ": bad safetensors header: " + e.what());
  }
  const uint64_t base = 8 + n;
  NamedTensors out;
  std::vector<std::pair<uint64_t, std::string>> order;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (metadata)
        for (auto m = it.value().begin(); m != it.value().end(); ++m) (*metadata)[m.key()] = m.value().get<std::string>();
      continue;
    }
    order.emplace_back(it.value()["data_offsets"][0].get<uint64_t>(), it.key());
  }
  std::sort(order.begin(), order.end());
  for (const auto& [begin_offset, name] : order) {
    const auto& entry = header[name];
    const std::string dtype = entry["dtype"].get<std::string>();
    c10::ScalarType type = c10::ScalarType::Undefined;
    for (const auto& [t, nm] : dtype_names())
      if (nm == dtype) type = t;
    if (type == c10::ScalarType::Undefined) throw ConfigError(file.string() + ": tensor " + name + " has unknown dtype " + dtype);
    const auto shape = entry["shape"].get<std::vector<int64_t>>();
    const uint64_t begin = entry["data_offsets"][0].get<uint64_t>(), end = entry["data_offsets"][1].get<uint64_t>();
    torch::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(type));
    if (end < begin || base + end > size ||
        end - begin != static_cast<uint64_t>(t.numel()) * static_cast<uint64_t>(t.element_size()))
      throw ConfigError(file.string() + ": tensor " + name + " has inconsistent data_offsets");
    in.seekg(static_cast<std::streamoff>(base + begin));
    in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(end - begin));
    if (!in) throw ConfigError(file.string() + ": truncated at tensor " + name);
    out.emplace_back(name, t);
  }
  return out;
}

}  // namespace xp::exporting
