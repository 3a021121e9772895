#include "inference/inputs.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "xp/base/sha256.h"
#include "xp/base/suggest.h"
#include "xp/errors.h"

namespace xp::inference {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// One CSV record split at commas; double quotes group (and "" escapes a quote).
std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') out.back() += '"', ++i;
      else if (c == '"') quoted = false;
      else out.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else if (c != '\r') {
      out.back() += c;
    }
  }
  return out;
}

void read_csv(const fs::path& file, const std::string& column, std::vector<std::string>& paths) {
  std::ifstream in(file);
  if (!in) throw ConfigError(file.string() + ": cannot read: " + std::strerror(errno));
  std::string line;
  if (!std::getline(in, line)) throw ConfigError(file.string() + ": empty CSV (expected a header with a '" + column + "' column)");
  const auto header = split_csv_line(line);
  const auto it = std::find(header.begin(), header.end(), column);
  if (it == header.end())
    throw ConfigError(file.string() + ":1: no column '" + column + "'" + did_you_mean(column, header) +
                      " (choose it with --path-column)");
  const size_t at = static_cast<size_t>(it - header.begin());
  const fs::path base = file.parent_path();
  while (std::getline(in, line)) {
    if (line.empty() || line == "\r") continue;
    const auto cells = split_csv_line(line);
    if (at >= cells.size() || cells[at].empty()) continue;
    fs::path p = cells[at];
    paths.push_back((p.is_absolute() ? p : base / p).lexically_normal().string());
  }
}

}  // namespace

bool has_image_extension(const std::string& path) {
  static const std::vector<std::string> exts = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"};
  const std::string e = lower(fs::path(path).extension().string());
  return std::find(exts.begin(), exts.end(), e) != exts.end();
}

InputList expand_inputs(const std::vector<std::string>& args, const std::string& path_column) {
  InputList list;
  for (const auto& arg : args) {
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
      std::vector<std::string> found;
      for (fs::recursive_directory_iterator it(arg, fs::directory_options::skip_permission_denied, ec), end;
           !ec && it != end; it.increment(ec))
        if (it->is_regular_file(ec) && has_image_extension(it->path().string())) found.push_back(it->path().string());
      if (ec) throw ConfigError(arg + ": cannot list: " + ec.message());
      std::sort(found.begin(), found.end());
      list.paths.insert(list.paths.end(), found.begin(), found.end());
    } else if (lower(fs::path(arg).extension().string()) == ".csv" && fs::is_regular_file(arg, ec)) {
      read_csv(arg, path_column, list.paths);
    } else if (fs::exists(arg, ec)) {
      list.paths.push_back(arg);
    } else {
      list.missing.push_back(arg);
    }
  }
  return list;
}

std::string inputs_fingerprint(const std::vector<std::string>& paths) {
  std::ostringstream os;
  for (const auto& p : paths) {
    std::error_code ec;
    const auto size = fs::file_size(p, ec);
    const auto time = fs::last_write_time(p, ec);
    os << p << '\t' << (ec ? 0 : size) << '\t' << time.time_since_epoch().count() << '\n';
  }
  return sha256_hex(os.str());
}

}  // namespace xp::inference
