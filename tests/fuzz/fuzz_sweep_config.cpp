// Fuzz target: sweep files (sweeps/sweep_config): TOML text -> SweepConfig, or xp::ConfigError.
#include <cstddef>
#include <cstdint>
#include <string>

#include "sweep_config.h"
#include "xp/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto config = xp::sweeps::parse_sweep_text(text, "/fuzz/sweep.toml");
    (void)config.max_trials();
    (void)config.sampler_options();
  } catch (const xp::ConfigError&) {
  }
  return 0;
}
