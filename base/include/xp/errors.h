#pragma once
#include <stdexcept>
#include <string>

namespace xp {

// A user's configuration is wrong (unknown key, wrong type, unknown plugin...). The CLI maps it
// to exit code 2. `where` is "file:line:col" when known.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(const std::string& message, std::string where = {})
      : std::runtime_error(where.empty() ? message : where + ": " + message), where_(std::move(where)) {}
  const std::string& where() const { return where_; }

 private:
  std::string where_;
};

// A plugin asked for a parameter in a way its schema does not allow: a bug in the plugin.
class ParamError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// A plugin library could not be loaded or is not trusted (missing, not a plugin, ABI mismatch).
class PluginLoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One sample of a dataset cannot be read (corrupt, truncated, empty file). The loader skips and
// counts it; it never ends a run.
class BadSample : public std::runtime_error {
 public:
  BadSample(std::string source, const std::string& reason)
      : std::runtime_error(source + ": " + reason), source_(std::move(source)) {}
  const std::string& source() const { return source_; }

 private:
  std::string source_;
};

}  // namespace xp
