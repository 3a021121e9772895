#include "xp/base/toml_writer.h"

#include <cctype>
#include <sstream>

namespace xp::config {

namespace {

bool bare_key(const std::string& k) {
  if (k.empty()) return false;
  for (char c : k)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

std::string key_text(const std::string& k) { return bare_key(k) ? k : Value(k).to_string(); }

bool is_table_array(const Value& v) {
  if (v.type() != Value::Type::List || v.as_list().empty()) return false;
  for (const auto& e : v.as_list())
    if (e.type() != Value::Type::Table) return false;
  return true;
}

void emit(std::ostringstream& os, const Value::Table& t, const std::string& prefix) {
  for (const auto& [k, v] : t)
    if (v.type() != Value::Type::Table && !is_table_array(v)) os << key_text(k) << " = " << v.to_string() << "\n";
  for (const auto& [k, v] : t) {
    if (v.type() != Value::Type::Table) continue;
    const std::string path = prefix.empty() ? key_text(k) : prefix + "." + key_text(k);
    os << "\n[" << path << "]\n";
    emit(os, v.as_table(), path);
  }
  for (const auto& [k, v] : t) {
    if (!is_table_array(v)) continue;
    const std::string path = prefix.empty() ? key_text(k) : prefix + "." + key_text(k);
    for (const auto& e : v.as_list()) {
      os << "\n[[" << path << "]]\n";
      emit(os, e.as_table(), path);
    }
  }
}

void flatten_into(const Value& v, const std::string& path, std::map<std::string, std::string>& out) {
  if (v.type() == Value::Type::Table) {
    for (const auto& [k, c] : v.as_table()) flatten_into(c, path.empty() ? k : path + "." + k, out);
  } else if (is_table_array(v)) {
    const auto& l = v.as_list();
    for (size_t i = 0; i < l.size(); ++i) flatten_into(l[i], path + "." + std::to_string(i), out);
  } else if (v.type() == Value::Type::String) {
    out[path] = v.as_string();
  } else {
    out[path] = v.to_string();
  }
}

}  // namespace

std::string canonical_toml(const Value::Table& config) {
  std::ostringstream os;
  emit(os, config, "");
  std::string s = os.str();
  // A document that starts with a table header would begin with the blank separator line.
  if (!s.empty() && s.front() == '\n') s.erase(0, 1);
  return s;
}

std::map<std::string, std::string> flatten(const Value::Table& config) {
  std::map<std::string, std::string> out;
  flatten_into(Value(config), "", out);
  return out;
}

}  // namespace xp::config
