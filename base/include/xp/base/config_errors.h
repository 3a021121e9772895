#pragma once
// Validation reports every mistake at once: checks that can fail independently (each key of a
// table, each plugin table, each variant) run under an ErrorCollector, which keeps their
// ConfigErrors (each with its file:line:col) and throws them together as one ConfigErrorList at
// the end. The CLI prints each as an `error:` line and exits 2, as for a single ConfigError.

#include <cstddef>
#include <string>
#include <vector>

#include "xp/errors.h"

namespace xp::config {

// Several configuration errors; what() is one per line, in the order they were found.
class ConfigErrorList : public ConfigError {
 public:
  explicit ConfigErrorList(std::vector<ConfigError> errors);
  const std::vector<ConfigError>& errors() const { return errors_; }

 private:
  std::vector<ConfigError> errors_;
};

class ErrorCollector {
 public:
  // At most `cap` errors are kept (the rest are counted): a broken file can produce hundreds.
  explicit ErrorCollector(size_t cap = 50) : cap_(cap) {}

  // Keeps `e` (or each error of a ConfigErrorList), dropping exact duplicates.
  void add(const ConfigError& e);

  // Runs `f`; a ConfigError it throws is kept instead of propagating. Returns whether f succeeded.
  template <class F>
  bool attempt(F&& f) {
    try {
      f();
      return true;
    } catch (const ConfigError& e) {
      add(e);
      return false;
    }
  }

  bool empty() const { return errors_.empty(); }
  size_t size() const { return errors_.size() + dropped_; }
  const std::vector<ConfigError>& errors() const { return errors_; }

  // Throws the single error as it is, several as a ConfigErrorList sorted top to bottom
  // (command-line places first, then file:line:col); nothing when there are none.
  void throw_if_any() const;

 private:
  size_t cap_;
  size_t dropped_ = 0;
  std::vector<ConfigError> errors_;
};

}  // namespace xp::config
