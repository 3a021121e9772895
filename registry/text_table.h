#pragma once
// Tables for the registry commands, rendered as aligned text, GitHub markdown or CSV (RFC 4180),
// plus the number/time formatting they share.
#include <optional>
#include <string>
#include <vector>

#include "xp/base/duration.h"

namespace xp::registry {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : header_(std::move(header)) {}
  void add_row(std::vector<std::string> row);
  size_t rows() const { return rows_.size(); }

  // Numeric columns are right-aligned; cells wider than `max_width` are cut with "…".
  std::string text(size_t max_width = 48) const;
  std::string markdown() const;
  std::string csv() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// 4 significant digits ("0.9123", "1.235e-05"); "-" for a missing value, "nan" for NaN.
std::string format_value(std::optional<double> v, int significant = 4);
// "45.2s", "3m05s", "2h03m".
using xp::format_duration;  // xp/base/duration.h
// Local time "2024-05-01 12:03:04".
std::string format_time(std::optional<double> unix_seconds);
// UTC ISO 8601 "2024-05-01T10:03:04Z" for machine-readable output.
std::string format_iso_utc(std::optional<double> unix_seconds);

}  // namespace xp::registry
