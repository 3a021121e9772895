#include "xp/schema.h"

#include <cmath>

#include "xp/errors.h"

namespace xp {

const char* param_type_name(ParamType t) {
  switch (t) {
    case ParamType::Bool: return "bool";
    case ParamType::Int: return "int";
    case ParamType::Float: return "float";
    case ParamType::String: return "string";
    case ParamType::IntList: return "int[]";
    case ParamType::FloatList: return "float[]";
    case ParamType::StringList: return "string[]";
    case ParamType::Table: return "table";
    case ParamType::Plugin: return "plugin";
    case ParamType::PluginList: return "plugin[]";
    case ParamType::Section: return "section";
    case ParamType::SectionList: return "section[]";
  }
  return "?";
}

Schema& Schema::add(ParamSpec spec) {
  if (find(spec.name)) throw ParamError("schema declares parameter '" + spec.name + "' twice");
  params_.push_back(std::move(spec));
  return *this;
}

ParamSpec& Schema::last() {
  if (params_.empty()) throw ParamError("schema modifier used before any parameter was added");
  return params_.back();
}

namespace {
ParamSpec spec(const std::string& name, ParamType type, Value def, const std::string& doc) {
  ParamSpec s;
  s.name = name;
  s.type = type;
  s.default_value = std::move(def);
  s.doc = doc;
  return s;
}
template <class T>
Value list_of(const std::vector<T>& v) {
  Value::List l;
  for (const auto& x : v) l.emplace_back(x);
  return Value(std::move(l));
}
}  // namespace

Schema& Schema::add_bool(const std::string& n, bool d, const std::string& doc) { return add(spec(n, ParamType::Bool, Value(d), doc)); }
Schema& Schema::add_int(const std::string& n, int64_t d, const std::string& doc) { return add(spec(n, ParamType::Int, Value(d), doc)); }
Schema& Schema::add_float(const std::string& n, double d, const std::string& doc) { return add(spec(n, ParamType::Float, Value(d), doc)); }
Schema& Schema::add_string(const std::string& n, const std::string& d, const std::string& doc) { return add(spec(n, ParamType::String, Value(d), doc)); }
Schema& Schema::add_ints(const std::string& n, std::vector<int64_t> d, const std::string& doc) { return add(spec(n, ParamType::IntList, list_of(d), doc)); }
Schema& Schema::add_floats(const std::string& n, std::vector<double> d, const std::string& doc) { return add(spec(n, ParamType::FloatList, list_of(d), doc)); }
Schema& Schema::add_strings(const std::string& n, std::vector<std::string> d, const std::string& doc) { return add(spec(n, ParamType::StringList, list_of(d), doc)); }
Schema& Schema::add_table(const std::string& n, const std::string& doc) { return add(spec(n, ParamType::Table, Value(Value::Table{}), doc)); }

Schema& Schema::add_plugin(const std::string& n, const std::string& kind, const std::string& doc) {
  ParamSpec s = spec(n, ParamType::Plugin, Value(), doc);
  s.required = true;
  s.plugin_kind = kind;
  return add(std::move(s));
}
Schema& Schema::add_plugins(const std::string& n, const std::string& kind, const std::string& doc) {
  ParamSpec s = spec(n, ParamType::PluginList, Value(Value::List{}), doc);
  s.plugin_kind = kind;
  return add(std::move(s));
}
Schema& Schema::add_section(const std::string& n, Schema section, const std::string& doc) {
  ParamSpec s = spec(n, ParamType::Section, Value(Value::Table{}), doc);
  s.section = std::make_shared<const Schema>(std::move(section));
  return add(std::move(s));
}
Schema& Schema::add_sections(const std::string& n, Schema section, const std::string& doc) {
  ParamSpec s = spec(n, ParamType::SectionList, Value(Value::List{}), doc);
  s.section = std::make_shared<const Schema>(std::move(section));
  return add(std::move(s));
}
Schema& Schema::add_required(const std::string& n, ParamType type, const std::string& doc) {
  ParamSpec s = spec(n, type, Value(), doc);
  s.required = true;
  return add(std::move(s));
}

Schema& Schema::range(double lo, double hi) {
  last().min = lo;
  last().max = hi;
  return *this;
}
Schema& Schema::min(double lo) {
  last().min = lo;
  return *this;
}
Schema& Schema::max(double hi) {
  last().max = hi;
  return *this;
}
Schema& Schema::choices(std::vector<Value> allowed) {
  last().choices = std::move(allowed);
  return *this;
}
Schema& Schema::allow_nonfinite() {
  last().finite = false;
  return *this;
}
Schema& Schema::optional() {
  last().required = false;
  last().default_value = Value();
  return *this;
}

std::string ParamSpec::range_text() const {
  // Bounds of integer parameters read as integers: "[1, inf]", not "[1.0, inf]".
  const bool integral = type == ParamType::Int || type == ParamType::IntList;
  auto bound = [&](double b) {
    return integral && std::abs(b) < 9e15 ? Value(static_cast<int64_t>(b)).to_string() : Value(b).to_string();
  };
  return "[" + (min ? bound(*min) : std::string("-inf")) + ", " + (max ? bound(*max) : std::string("inf")) + "]";
}

std::string ParamSpec::number_problem(double v) const {
  if (std::isnan(v)) {
    if (finite) return "is not a number (nan); it must be a finite number";
    return "";  // nan has no place in a range: allowed only where nonfinite values are
  }
  if (std::isinf(v) && finite) return "is infinite; it must be a finite number" +
                                      std::string(min || max ? " in " + range_text() : "");
  if ((min && v < *min) || (max && v > *max)) return "is out of range " + range_text();
  return "";
}

const ParamSpec* Schema::find(const std::string& name) const {
  for (const auto& p : params_)
    if (p.name == name) return &p;
  return nullptr;
}

const std::vector<std::string>& known_tasks() {
  static const std::vector<std::string> names = {"classification", "segmentation", "hierarchical"};
  return names;
}

}  // namespace xp
