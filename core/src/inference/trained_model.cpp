#include "xp/trained_model.h"

#include "inference/run_model.h"
#include "plugin_loader.h"

namespace xp {

TrainedModel load_trained_model(const std::filesystem::path& run_dir, const std::string& checkpoint) {
  PluginLoader loader;
  inference::LoadOptions options;
  options.checkpoint = checkpoint;
  options.device = "cpu";
  inference::LoadedRun run = inference::load_run(run_dir.filename().string(), run_dir, options, loader);
  for (auto& p : run.setup.model->parameters()) p.set_requires_grad(false);
  TrainedModel out;
  out.model = run.setup.model;
  out.info = run.setup.info;
  out.experiment = run.spec.experiment;
  return out;
}

}  // namespace xp
