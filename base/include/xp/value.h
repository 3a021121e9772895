#pragma once
// A parameter value as the host hands it to a plugin: a small, self-contained tree so the SDK does
// not expose the TOML library's types (plugins must not depend on the host's parser version).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace xp {

class Value {
 public:
  enum class Type { None, Bool, Int, Float, String, List, Table };
  using List = std::vector<Value>;
  using Table = std::map<std::string, Value>;

  Value() = default;
  Value(bool v) : type_(Type::Bool), b_(v) {}
  Value(int v) : type_(Type::Int), i_(v) {}
  Value(int64_t v) : type_(Type::Int), i_(v) {}
  Value(double v) : type_(Type::Float), d_(v) {}
  Value(const char* v) : type_(Type::String), s_(v) {}
  Value(std::string v) : type_(Type::String), s_(std::move(v)) {}
  Value(List v) : type_(Type::List), list_(std::move(v)) {}
  Value(Table v) : type_(Type::Table), table_(std::move(v)) {}

  Type type() const { return type_; }
  bool is_none() const { return type_ == Type::None; }
  bool is_number() const { return type_ == Type::Int || type_ == Type::Float; }

  // Accessors throw xp::ParamError on a type mismatch; as_float accepts an integer.
  bool as_bool() const;
  int64_t as_int() const;
  double as_float() const;
  const std::string& as_string() const;
  const List& as_list() const;
  const Table& as_table() const;
  Table& as_table();

  // Compact TOML-like rendering, used in messages and `xp plugins show`.
  std::string to_string() const;
  bool operator==(const Value& other) const;
  bool operator!=(const Value& other) const { return !(*this == other); }

  static const char* type_name(Type t);

 private:
  Type type_ = Type::None;
  bool b_ = false;
  int64_t i_ = 0;
  double d_ = 0.0;
  std::string s_;
  List list_;
  Table table_;
};

}  // namespace xp
