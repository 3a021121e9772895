#include "text_table.h"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <sstream>

#include "param_value.h"

namespace xp::registry {
namespace {

// Counts UTF-8 code points so that "±" and "…" do not break the alignment.
size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

std::string cut(const std::string& s, size_t width) {
  if (display_width(s) <= width) return s;
  std::string out;
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) != 0x80 && ++n > width - 1) break;
    out += s[i];
  }
  return out + "…";
}

bool is_numeric_cell(const std::string& s) {
  if (s.empty() || s == "-") return false;
  return param_number(s.substr(0, s.find(' '))).has_value() || s == "nan";
}

std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

void TextTable::add_row(std::vector<std::string> row) {
  row.resize(header_.size());
  rows_.push_back(std::move(row));
}

std::string TextTable::text(size_t max_width) const {
  size_t cols = header_.size();
  std::vector<size_t> width(cols, 0);
  std::vector<bool> numeric(cols, true);
  for (size_t c = 0; c < cols; ++c) width[c] = display_width(header_[c]);
  for (const auto& row : rows_)
    for (size_t c = 0; c < cols; ++c) {
      width[c] = std::max(width[c], std::min(max_width, display_width(row[c])));
      if (!row[c].empty() && row[c] != "-" && !is_numeric_cell(row[c])) numeric[c] = false;
    }
  std::ostringstream os;
  auto line = [&](const std::vector<std::string>& cells, bool header) {
    std::string out;
    for (size_t c = 0; c < cols; ++c) {
      std::string cell = cut(cells[c], max_width);
      std::string pad(width[c] - display_width(cell), ' ');
      out += (c ? "  " : "") + (numeric[c] && !header ? pad + cell : cell + (c + 1 < cols ? pad : ""));
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    os << out << "\n";
  };
  line(header_, true);
  std::vector<std::string> rule;
  for (size_t c = 0; c < cols; ++c) rule.push_back(std::string(width[c], '-'));
  line(rule, true);
  for (const auto& row : rows_) line(row, false);
  return os.str();
}

std::string TextTable::markdown() const {
  std::ostringstream os;
  auto esc = [](const std::string& s) {
    std::string out;
    for (char c : s) out += c == '|' ? std::string("\\|") : c == '\n' ? std::string(" ") : std::string(1, c);
    return out;
  };
  os << "|";
  for (const auto& h : header_) os << " " << esc(h) << " |";
  os << "\n|";
  for (size_t c = 0; c < header_.size(); ++c) os << " --- |";
  os << "\n";
  for (const auto& row : rows_) {
    os << "|";
    for (const auto& cell : row) os << " " << esc(cell) << " |";
    os << "\n";
  }
  return os.str();
}

std::string TextTable::csv() const {
  std::ostringstream os;
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t c = 0; c < cells.size(); ++c) os << (c ? "," : "") << csv_cell(cells[c]);
    os << "\n";
  };
  line(header_);
  for (const auto& row : rows_) line(row);
  return os.str();
}

std::string format_value(std::optional<double> v, int significant) {
  if (!v) return "-";
  if (std::isnan(*v)) return "nan";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*g", significant, *v);
  return buf;
}

std::string format_time(std::optional<double> t) {
  if (!t) return "-";
  std::time_t secs = static_cast<std::time_t>(*t);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string format_iso_utc(std::optional<double> t) {
  if (!t) return "";
  std::time_t secs = static_cast<std::time_t>(*t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace xp::registry
