#pragma once
// The search space of a sweep: one Dimension per config key ("loss.gamma", "train.optimizer.lr").
// Samplers work on it; grid points are computed from their index, so a grid is never expanded.

#include <cstdint>
#include <string>
#include <vector>

#include "trial.h"
#include "xp/rng.h"
#include "xp/value.h"

namespace xp::sweeps {

enum class DimensionType { Choice, Uniform, LogUniform, Int, IntLog };
const char* dimension_type_name(DimensionType t);

struct Dimension {
  std::string key;
  DimensionType type = DimensionType::Uniform;
  std::vector<Value> values;  // Choice
  double low = 0, high = 1;   // Uniform, LogUniform, Int, IntLog (inclusive)
  int64_t step = 1;           // Int
  int64_t grid_points = 0;    // how many points a grid takes from a range (0 = every integer; floats need it)
  std::string where;          // file:line:col of the definition, for messages

  bool is_log() const { return type == DimensionType::LogUniform || type == DimensionType::IntLog; }
  bool is_int() const { return type == DimensionType::Int || type == DimensionType::IntLog; }
  bool is_categorical() const { return type == DimensionType::Choice; }

  // The values this dimension takes on a grid, in order. Small: one dimension, never the product.
  std::vector<Value> grid_values() const;
  // A uniform draw that honours the log scale and the integer step.
  Value sample(Rng& rng) const;
  // Whether `v` lies in the dimension (a value from a resumed sweep, a hand-queued trial).
  bool contains(const Value& v) const;

  // Numeric dimensions as TPE models them: a real interval, in log space for log dimensions.
  // Integers are widened by half a step so every integer owns an equal share of the interval.
  double internal_low() const;
  double internal_high() const;
  double to_internal(const Value& v) const;
  Value from_internal(double x) const;  // rounds and clamps integers to the step grid
};

class SearchSpace {
 public:
  SearchSpace() = default;
  explicit SearchSpace(std::vector<Dimension> dims);

  const std::vector<Dimension>& dimensions() const { return dims_; }
  const Dimension* find(const std::string& key) const;
  bool empty() const { return dims_.empty(); }

  // Number of grid points; throws ConfigError naming the dimension when a float range has no
  // grid_points or the product overflows.
  uint64_t grid_size() const;
  // The i-th grid point (mixed radix over the dimensions, the last dimension varying fastest).
  ParamSet grid_point(uint64_t index) const;
  ParamSet sample(Rng& rng) const;

 private:
  std::vector<Dimension> dims_;
};

}  // namespace xp::sweeps
