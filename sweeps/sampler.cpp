#include "sampler.h"

#include "grid_sampler.h"
#include "random_sampler.h"
#include "xp/base/suggest.h"
#include "tpe_sampler.h"
#include "xp/errors.h"

namespace xp::sweeps {

const std::vector<std::string>& sampler_methods() {
  static const std::vector<std::string> methods = {"grid", "random", "tpe"};
  return methods;
}

std::unique_ptr<Sampler> make_sampler(const SearchSpace& space, const SamplerOptions& options) {
  if (options.method == "grid") return std::make_unique<GridSampler>(space);
  if (options.method == "random") return std::make_unique<RandomSampler>(space, options.seed);
  if (options.method == "tpe") return std::make_unique<TpeSampler>(space, options.seed, options.direction, options.tpe);
  throw ConfigError("unknown sweep method '" + options.method + "'" + did_you_mean(options.method, sampler_methods()));
}

}  // namespace xp::sweeps
