#include "pruner.h"

#include "asha_pruner.h"
#include "median_pruner.h"
#include "xp/base/suggest.h"
#include "xp/errors.h"

namespace xp::sweeps {

const std::vector<std::string>& pruner_methods() {
  static const std::vector<std::string> methods = {"none", "asha", "median"};
  return methods;
}

std::unique_ptr<Pruner> make_pruner(const PrunerOptions& o) {
  if (o.method == "none") return nullptr;
  if (o.method == "asha") return std::make_unique<AshaPruner>(o.direction, o.min_epochs, o.reduction_factor);
  if (o.method == "median") return std::make_unique<MedianPruner>(o.direction, o.n_startup_trials, o.min_epochs);
  throw ConfigError("unknown early_stopping method '" + o.method + "'" + did_you_mean(o.method, pruner_methods()));
}

}  // namespace xp::sweeps
