// Fuzz target: experiment resolution (core/src/config): an experiment file, a base file it may
// extend, and --set overrides, through TOML parsing, extends, variants, --set and schema
// validation. Everything must end in RunSpecs or an xp::ConfigError.
//
// Input layout: the experiment text, optionally followed by a line "#--- base.toml" and the base
// file's text, optionally followed by "#--- set" and one --set override per line.
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "config/experiment.h"
#include "plugin_loader.h"
#include "xp/errors.h"
#include "xp/plugin_registry.h"

namespace {

namespace fs = std::filesystem;

// Plugins of every kind, with the parameter types and modifiers real plugins use; no factories:
// resolution only validates.
void register_schemas() {
  auto& r = xp::PluginRegistry::instance();
  auto add = [&r](const std::string& kind, const std::string& name, xp::Schema s) {
    xp::PluginEntry e;
    e.kind = kind;
    e.name = name;
    e.schema = std::move(s);
    r.add(std::move(e));
  };
  add("loss", "focal", xp::Schema("focal").add_float("gamma", 2.0, "g").range(0.0, 10.0)
                           .add_float("alpha", 0.25, "a").range(0.0, 1.0)
                           .add_string("reduction", "mean", "r").choices({xp::Value("mean"), xp::Value("sum")}));
  add("loss", "combo", xp::Schema("combo").add_plugins("terms", "loss", "t").add_floats("weights", {}, "w").min(0.0));
  add("model", "net", xp::Schema("net").add_int("in_channels", 3, "c").range(1, 64).add_ints("channels", {8}, "c")
                          .add_plugin("encoder", "model", "e").optional().add_table("extra", "x"));
  add("model", "tiny", xp::Schema("tiny").add_bool("bias", true, "b"));
  add("dataset", "folder", xp::Schema("folder").add_required("root", xp::ParamType::String, "r")
                               .add_int("limit", 0, "l").min(0).add_strings("classes", {}, "c"));
  add("metric", "top1", xp::Schema("top1"));
  add("augmentation", "flip", xp::Schema("flip").add_float("p", 0.5, "p").range(0.0, 1.0));
}

std::string part(const std::string& text, const std::string& marker, size_t* end_of_previous) {
  const size_t at = text.find("\n" + marker + "\n");
  if (at == std::string::npos) return {};
  if (at < *end_of_previous) *end_of_previous = at;
  const size_t begin = at + marker.size() + 2;
  const size_t next = text.find("\n#--- ", begin);
  return text.substr(begin, next == std::string::npos ? std::string::npos : next - begin);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static xp::PluginLoader loader;
  static const fs::path dir = [] {
    register_schemas();
    auto d = fs::temp_directory_path() / ("xp_fuzz_experiment_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  const std::string text(reinterpret_cast<const char*>(data), size);
  // [plugins] paths would dlopen whatever library the input names: not what this target tests.
  if (text.find("plugins") != std::string::npos) return 0;
  size_t experiment_end = text.size();
  const std::string base = part(text, "#--- base.toml", &experiment_end);
  const std::string sets = part(text, "#--- set", &experiment_end);
  std::ofstream(dir / "e.toml", std::ios::trunc) << text.substr(0, experiment_end);
  std::ofstream(dir / "base.toml", std::ios::trunc) << base;
  xp::ExperimentOptions options;
  options.partial = (size & 1) != 0;  // both modes: partial (base files) and full
  std::istringstream lines(sets);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) options.sets.push_back(line);
  try {
    auto specs = xp::resolve_experiment(dir / "e.toml", options, loader);
    for (const auto& s : specs)
      if (s.hash.size() != 64) __builtin_trap();
  } catch (const xp::ConfigError&) {
  }
  return 0;
}
