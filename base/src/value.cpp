#include "xp/value.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <sstream>

#include "xp/errors.h"

namespace xp {

const char* Value::type_name(Type t) {
  switch (t) {
    case Type::None: return "none";
    case Type::Bool: return "bool";
    case Type::Int: return "integer";
    case Type::Float: return "float";
    case Type::String: return "string";
    case Type::List: return "array";
    case Type::Table: return "table";
  }
  return "?";
}

namespace {
[[noreturn]] void mismatch(Value::Type want, Value::Type got) {
  throw ParamError(std::string("parameter is ") + Value::type_name(got) + ", not " + Value::type_name(want));
}
}  // namespace

bool Value::as_bool() const {
  if (type_ != Type::Bool) mismatch(Type::Bool, type_);
  return b_;
}
int64_t Value::as_int() const {
  if (type_ != Type::Int) mismatch(Type::Int, type_);
  return i_;
}
double Value::as_float() const {
  if (type_ == Type::Int) return static_cast<double>(i_);
  if (type_ != Type::Float) mismatch(Type::Float, type_);
  return d_;
}
const std::string& Value::as_string() const {
  if (type_ != Type::String) mismatch(Type::String, type_);
  return s_;
}
const Value::List& Value::as_list() const {
  if (type_ != Type::List) mismatch(Type::List, type_);
  return list_;
}
const Value::Table& Value::as_table() const {
  if (type_ != Type::Table) mismatch(Type::Table, type_);
  return table_;
}
Value::Table& Value::as_table() {
  if (type_ != Type::Table) mismatch(Type::Table, type_);
  return table_;
}

namespace {
std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') { out += "\\n"; continue; }
    out += c;
  }
  return out + "\"";
}
bool bare_key(const std::string& k) {
  if (k.empty()) return false;
  for (char c : k)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}
}  // namespace

std::string Value::to_string() const {
  std::ostringstream os;
  switch (type_) {
    case Type::None: return "none";
    case Type::Bool: return b_ ? "true" : "false";
    case Type::Int: return std::to_string(i_);
    case Type::Float: {
      if (std::isnan(d_)) return "nan";
      if (std::isinf(d_)) return d_ > 0 ? "inf" : "-inf";
      // Shortest text that reads back as the same double (C++17 to_chars).
      char buf[64];
      auto res = std::to_chars(buf, buf + sizeof buf, d_);
      std::string s(buf, res.ptr);
      if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
      return s;
    }
    case Type::String: return quote(s_);
    case Type::List: {
      os << "[";
      for (size_t i = 0; i < list_.size(); ++i) os << (i ? ", " : "") << list_[i].to_string();
      os << "]";
      return os.str();
    }
    case Type::Table: {
      os << "{";
      bool first = true;
      for (const auto& [k, v] : table_) {
        os << (first ? " " : ", ") << (bare_key(k) ? k : quote(k)) << " = " << v.to_string();
        first = false;
      }
      os << (first ? "}" : " }");
      return os.str();
    }
  }
  return "?";
}

bool Value::operator==(const Value& o) const {
  if (type_ != o.type_) return false;
  switch (type_) {
    case Type::None: return true;
    case Type::Bool: return b_ == o.b_;
    case Type::Int: return i_ == o.i_;
    case Type::Float: return d_ == o.d_;
    case Type::String: return s_ == o.s_;
    case Type::List: return list_ == o.list_;
    case Type::Table: return table_ == o.table_;
  }
  return false;
}

}  // namespace xp
