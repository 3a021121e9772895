#include "model_runs.h"

#include <iostream>

#include "ensemble_members.h"
#include "xp/base/suggest.h"
#include "xp/errors.h"

namespace xp::cli {

namespace fs = std::filesystem;

ModelRuns find_model_runs(RunRegistry& registry, const std::string& arg, const std::string& checkpoint) {
  ModelRuns out;
  try {
    out.run = registry.find_run(arg);
  } catch (const ConfigError& e) {
    if (std::string(e.what()).find("ambiguous") != std::string::npos) throw;
    std::vector<std::string> ids;
    for (const auto& r : registry.list_runs(RunQuery{})) ids.push_back(r.id);
    throw ConfigError("no run '" + arg + "' in " + registry.path().string() + did_you_mean(arg, ids));
  }
  out.run = *registry.get_run(out.run.id);
  if (registry::is_ensemble(out.run)) {
    for (const auto& id : registry::ensemble_members(out.run)) {
      auto member = registry.get_run(id);
      if (!member) throw ConfigError("ensemble " + out.run.id + " names member " + id + ", which the registry no longer has");
      out.members.push_back(*member);
    }
  } else {
    out.members.push_back(out.run);
  }
  for (const auto& m : out.members) {
    const fs::path file = fs::path(m.info.run_dir) / "checkpoints" / (checkpoint + ".pt");
    std::error_code ec;
    if (!fs::is_regular_file(file, ec))
      throw ConfigError("run " + m.id + " (" + run_status_name(m.status) + ") has no checkpoint " + file.string() +
                        (checkpoint == "best" ? " (try --checkpoint last)" : ""));
    if (m.status != RunStatus::Finished)
      std::cerr << "warning: run " << m.id << " has status " << run_status_name(m.status) << "; using its "
                << checkpoint << ".pt\n";
  }
  return out;
}

ModelRuns load_model_runs(RunRegistry& registry, const std::string& arg, const inference::LoadOptions& options,
                          PluginLoader& loader) {
  ModelRuns out = find_model_runs(registry, arg, options.checkpoint);
  for (const auto& m : out.members) {
    inference::LoadedRun run = inference::load_run(m.id, m.info.run_dir, options, loader);
    if (auto it = m.summary.find("calib_temperature"); it != m.summary.end() && it->second > 0) run.temperature = it->second;
    if (auto it = m.summary.find("calib_threshold"); it != m.summary.end()) run.threshold = it->second;
    out.loaded.push_back(std::move(run));
  }
  return out;
}

}  // namespace xp::cli
