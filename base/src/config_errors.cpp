#include "xp/base/config_errors.h"

#include <algorithm>
#include <stdexcept>
#include <tuple>

namespace xp::config {

namespace {

std::string join(const std::vector<ConfigError>& errors) {
  // main() prints "error: " before what(); every further error gets its own "error: " line.
  std::string text;
  for (size_t i = 0; i < errors.size(); ++i) text += (i ? "\nerror: " : "") + std::string(errors[i].what());
  const size_t total = errors.size();
  if (total > 1) text += "\n" + std::to_string(total) + " errors";
  return text;
}

// Errors are listed top to bottom: command-line places (--set, --variant) first, then by file,
// line and column.
std::tuple<int, std::string, long, long> order_key(const ConfigError& e) {
  const std::string& where = e.where();
  const size_t c2 = where.rfind(':');
  const size_t c1 = c2 == std::string::npos || c2 == 0 ? std::string::npos : where.rfind(':', c2 - 1);
  if (c1 != std::string::npos) {
    try {
      size_t used1 = 0, used2 = 0;
      const long line = std::stol(where.substr(c1 + 1, c2 - c1 - 1), &used1);
      const long col = std::stol(where.substr(c2 + 1), &used2);
      if (used1 == c2 - c1 - 1 && used2 == where.size() - c2 - 1) return {1, where.substr(0, c1), line, col};
    } catch (const std::exception&) {
    }
  }
  return {0, where, 0, 0};
}

}  // namespace

ConfigErrorList::ConfigErrorList(std::vector<ConfigError> errors)
    : ConfigError(join(errors)), errors_(std::move(errors)) {}

void ErrorCollector::add(const ConfigError& e) {
  if (const auto* list = dynamic_cast<const ConfigErrorList*>(&e)) {
    for (const auto& one : list->errors()) add(one);
    return;
  }
  const std::string text = e.what();
  if (std::any_of(errors_.begin(), errors_.end(), [&](const ConfigError& k) { return text == k.what(); })) return;
  if (errors_.size() >= cap_) {
    ++dropped_;
    return;
  }
  errors_.push_back(e);
}

void ErrorCollector::throw_if_any() const {
  if (errors_.empty()) return;
  if (errors_.size() == 1 && !dropped_) throw errors_.front();
  std::vector<ConfigError> kept = errors_;
  std::stable_sort(kept.begin(), kept.end(),
                   [](const ConfigError& a, const ConfigError& b) { return order_key(a) < order_key(b); });
  if (!dropped_) throw ConfigErrorList(std::move(kept));
  kept.emplace_back("... and " + std::to_string(dropped_) + " more errors (fix these first)");
  throw ConfigErrorList(std::move(kept));
}

}  // namespace xp::config
