#include "search_space.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "xp/errors.h"

namespace xp::sweeps {

const char* dimension_type_name(DimensionType t) {
  switch (t) {
    case DimensionType::Choice: return "choice";
    case DimensionType::Uniform: return "uniform";
    case DimensionType::LogUniform: return "loguniform";
    case DimensionType::Int: return "int";
    case DimensionType::IntLog: return "int_log";
  }
  return "?";
}

namespace {

int64_t align_to_step(const Dimension& d, double x) {
  const auto lo = static_cast<int64_t>(d.low), hi = static_cast<int64_t>(d.high);
  int64_t k = static_cast<int64_t>(std::llround((x - d.low) / static_cast<double>(d.step)));
  int64_t v = lo + k * d.step;
  while (v > hi) v -= d.step;
  return std::max(v, lo);
}

std::string where_prefix(const Dimension& d) { return "'" + d.key + "'" + (d.where.empty() ? "" : " (" + d.where + ")"); }

}  // namespace

std::vector<Value> Dimension::grid_values() const {
  std::vector<Value> out;
  switch (type) {
    case DimensionType::Choice: return values;
    case DimensionType::Uniform:
    case DimensionType::LogUniform: {
      if (grid_points < 1)
        throw ConfigError("grid search over the " + std::string(dimension_type_name(type)) + " range '" + key +
                              "' needs grid_points (how many values to try)",
                          where);
      for (int64_t i = 0; i < grid_points; ++i) {
        double t = grid_points == 1 ? 0.5 : static_cast<double>(i) / static_cast<double>(grid_points - 1);
        out.emplace_back(type == DimensionType::LogUniform ? std::exp(std::log(low) + t * (std::log(high) - std::log(low)))
                                                           : low + t * (high - low));
      }
      return out;
    }
    case DimensionType::Int:
    case DimensionType::IntLog: {
      if (grid_points < 1) {
        if (type == DimensionType::IntLog)
          throw ConfigError("grid search over the int_log range '" + key + "' needs grid_points", where);
        for (auto v = static_cast<int64_t>(low); v <= static_cast<int64_t>(high); v += step) out.emplace_back(v);
        return out;
      }
      // Evenly spaced (in log space for int_log), rounded to the step; duplicates collapse.
      for (int64_t i = 0; i < grid_points; ++i) {
        double t = grid_points == 1 ? 0.5 : static_cast<double>(i) / static_cast<double>(grid_points - 1);
        double x = is_log() ? std::exp(std::log(low) + t * (std::log(high) - std::log(low))) : low + t * (high - low);
        Value v(align_to_step(*this, x));
        if (out.empty() || out.back() != v) out.push_back(v);
      }
      return out;
    }
  }
  return out;
}

Value Dimension::sample(Rng& rng) const {
  switch (type) {
    case DimensionType::Choice:
      return values[static_cast<size_t>(rng.integer(0, static_cast<int64_t>(values.size()) - 1))];
    case DimensionType::Uniform: return Value(rng.uniform(low, high));
    case DimensionType::LogUniform: return Value(std::exp(rng.uniform(std::log(low), std::log(high))));
    case DimensionType::Int: {
      int64_t n = (static_cast<int64_t>(high) - static_cast<int64_t>(low)) / step;
      return Value(static_cast<int64_t>(low) + step * rng.integer(0, n));
    }
    case DimensionType::IntLog: return from_internal(rng.uniform(internal_low(), internal_high()));
  }
  return {};
}

bool Dimension::contains(const Value& v) const {
  if (type == DimensionType::Choice) return std::find(values.begin(), values.end(), v) != values.end();
  if (!v.is_number()) return false;
  if (is_int() && v.type() != Value::Type::Int) return false;
  double x = v.as_float();
  if (x < low || x > high) return false;
  if (type == DimensionType::Int) return (v.as_int() - static_cast<int64_t>(low)) % step == 0;
  return true;
}

double Dimension::internal_low() const {
  double lo = is_int() ? low - 0.5 * static_cast<double>(step) : low;
  if (is_log()) return std::log(is_int() ? std::max(lo, 1e-12) : lo);
  return lo;
}

double Dimension::internal_high() const {
  double hi = is_int() ? high + 0.5 * static_cast<double>(step) : high;
  return is_log() ? std::log(hi) : hi;
}

double Dimension::to_internal(const Value& v) const {
  double x = v.as_float();
  return is_log() ? std::log(x) : x;
}

Value Dimension::from_internal(double x) const {
  double v = is_log() ? std::exp(x) : x;
  if (is_int()) return Value(align_to_step(*this, v));
  return Value(std::clamp(v, low, high));
}

SearchSpace::SearchSpace(std::vector<Dimension> dims) : dims_(std::move(dims)) {
  std::sort(dims_.begin(), dims_.end(), [](const Dimension& a, const Dimension& b) { return a.key < b.key; });
  for (size_t i = 1; i < dims_.size(); ++i)
    if (dims_[i].key == dims_[i - 1].key)
      throw ConfigError("'" + dims_[i].key + "' is defined twice in [space]", dims_[i].where);
}

const Dimension* SearchSpace::find(const std::string& key) const {
  for (const auto& d : dims_)
    if (d.key == key) return &d;
  return nullptr;
}

uint64_t SearchSpace::grid_size() const {
  uint64_t n = 1;
  for (const auto& d : dims_) {
    auto k = static_cast<uint64_t>(d.grid_values().size());
    if (k == 0) throw ConfigError("'" + d.key + "' has no grid values", d.where);
    if (n > std::numeric_limits<uint64_t>::max() / k)
      throw ConfigError("the grid has more than 2^64 points at " + where_prefix(d) + "; use random or tpe", d.where);
    n *= k;
  }
  return n;
}

ParamSet SearchSpace::grid_point(uint64_t index) const {
  ParamSet out;
  for (auto it = dims_.rbegin(); it != dims_.rend(); ++it) {
    auto values = it->grid_values();
    out[it->key] = values[index % values.size()];
    index /= values.size();
  }
  return out;
}

ParamSet SearchSpace::sample(Rng& rng) const {
  ParamSet out;
  for (const auto& d : dims_) out[d.key] = d.sample(rng);
  return out;
}

}  // namespace xp::sweeps
