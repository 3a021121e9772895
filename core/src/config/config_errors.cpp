#include "config/config_errors.h"

#include <algorithm>

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
  if (!dropped_) throw ConfigErrorList(errors_);
  std::vector<ConfigError> kept = errors_;
  kept.emplace_back("... and " + std::to_string(dropped_) + " more errors (fix these first)");
  throw ConfigErrorList(std::move(kept));
}

}  // namespace xp::config
