// xp export RUN --out model.safetensors: the run's weights in the safetensors format, with a JSON
// sidecar (model.json) holding what a user needs to use them elsewhere: the run's config, class
// names, normalization, input size, calibrated temperature and threshold. Models with a
// torchvision twin get torchvision's key names (--names auto), so torchvision loads them as they are.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "command.h"
#include "engine/sample_images.h"
#include "export/safetensors.h"
#include "export/torchvision_names.h"
#include "inference/scene_segmenter.h"
#include "model_runs.h"
#include "options.h"
#include "plugin_loader.h"
#include "run_registry.h"
#include "xp/base/suggest.h"
#include "xp/errors.h"
#include "xp/version.h"

namespace xp::cli {
namespace {

namespace fs = std::filesystem;

c10::ScalarType export_dtype(const std::string& name) {
  if (name == "f32") return torch::kFloat;
  if (name == "f16") return torch::kHalf;
  if (name == "bf16") return torch::kBFloat16;
  throw UsageError("--dtype must be f32, f16 or bf16, not '" + name + "'" + did_you_mean(name, {"f32", "f16", "bf16"}));
}

int export_run(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string out, checkpoint = "best", names = "auto", dtype = "f32", registry_option;
  desc.add_options()("run", po::value<std::string>(), "run id (or unique prefix, or run folder)")(
      "out,o", po::value(&out), "the .safetensors file to write (the sidecar goes next to it, .json)")(
      "checkpoint", po::value(&checkpoint), "best (default) or last")(
      "names", po::value(&names), "auto (torchvision's where the model has a twin, default), torchvision, xp")(
      "dtype", po::value(&dtype), "floating-point tensors as f32 (default), f16 or bf16")(
      "registry", po::value(&registry_option), "registry file (default $XP_REGISTRY or ./xp-runs/registry.db)")(
      "plugin-path", po::value<std::vector<std::string>>()->composing(), "extra plugin library or folder");
  po::positional_options_description pos;
  pos.add("run", 1);
  po::variables_map vm;
  const std::string usage = "xp export RUN --out model.safetensors [--checkpoint best|last] [--names auto|torchvision|xp] [--dtype f32|f16|bf16]";
  if (!parse_options(usage, desc, pos, args, vm)) return kOk;
  if (!vm.count("run")) throw UsageError("name the run to export\nusage: " + usage);
  if (out.empty()) throw UsageError("--out is required, e.g. --out model.safetensors");
  if (names != "auto" && names != "torchvision" && names != "xp")
    throw UsageError("--names must be auto, torchvision or xp, not '" + names + "'" + did_you_mean(names, {"auto", "torchvision", "xp"}));
  if (checkpoint != "best" && checkpoint != "last")
    throw UsageError("--checkpoint must be best or last, not '" + checkpoint + "'" + did_you_mean(checkpoint, {"best", "last"}));
  const c10::ScalarType float_type = export_dtype(dtype);

  load_plugins(vm.count("plugin-path") ? vm["plugin-path"].as<std::vector<std::string>>() : std::vector<std::string>{});
  PluginLoader loader;
  RunRegistry registry(existing_registry_path(registry_option));
  inference::LoadOptions lo;
  lo.checkpoint = checkpoint;
  lo.device = "cpu";
  ModelRuns models = load_model_runs(registry, vm["run"].as<std::string>(), lo, loader);
  if (models.loaded.size() != 1)
    throw ConfigError("run " + models.run.id + " is an ensemble of " + std::to_string(models.loaded.size()) +
                      " runs; export each member");
  inference::LoadedRun& run = models.loaded.front();

  exporting::NamedTensors tensors;
  for (const auto& p : run.setup.model->named_parameters()) tensors.emplace_back(p.key(), p.value());
  for (const auto& b : run.setup.model->named_buffers()) tensors.emplace_back(b.key(), b.value());
  for (auto& [name, t] : tensors)
    if (t.is_floating_point()) t = t.to(float_type);

  const exporting::TorchvisionMatch match = exporting::torchvision_equivalent(run.spec.model);
  std::string convention = "xp";
  if (names == "torchvision" && match.architecture.empty())
    throw ConfigError("--names torchvision: run " + run.id + "'s model has no torchvision twin: " + match.reason);
  if (names != "xp" && !match.architecture.empty()) {
    tensors = exporting::to_torchvision_names(match, tensors);
    convention = "torchvision";
  }

  nlohmann::json side;
  side["format"] = "xp-export-1";
  side["run"] = run.id;
  side["experiment"] = run.spec.experiment;
  side["variant"] = run.spec.variant;
  side["seed"] = run.spec.seed;
  side["checkpoint"] = checkpoint;
  side["model"] = run.spec.model.plugin();
  side["key_names"] = convention;
  side["torchvision_architecture"] = convention == "torchvision" ? nlohmann::json(match.architecture) : nlohmann::json(nullptr);
  side["task"] = run.setup.info.task == Task::Classification ? "classification" : "segmentation";
  side["num_classes"] = run.setup.info.num_classes;
  side["class_names"] = run.setup.info.class_names;
  side["in_channels"] = run.setup.info.channels;
  try {
    auto [h, w] = inference::training_tile_size(run);
    side["input_size"] = {h, w};
  } catch (const std::exception&) {
    side["input_size"] = nullptr;
  }
  // What the model expects of a pixel v (0..255): (v / max_pixel_value - mean) / std per channel.
  nlohmann::json norm;
  if (auto n = engine::find_normalization(run.spec.eval_augment)) {
    norm = {{"mean", n->mean}, {"std", n->std}, {"max_pixel_value", n->max_pixel_value}};
  } else {
    norm = {{"mean", {0.0}}, {"std", {1.0}}, {"max_pixel_value", 255.0}};
  }
  side["normalization"] = norm;
  side["channel_order"] = run.setup.info.channels == 3 ? "RGB" : "as stored";
  side["temperature"] = run.temperature;
  side["threshold"] = run.threshold;
  side["config"] = run.spec.flat;
  side["config_toml"] = run.spec.canonical;
  side["xp_version"] = XP_VERSION_STRING;
  side["tensors"] = tensors.size();

  std::map<std::string, std::string> metadata = {{"format", "pt"}, {"xp_run", run.id}, {"xp_model", run.spec.model.plugin()},
                                                 {"key_names", convention}};
  exporting::write_safetensors(out, tensors, metadata);
  fs::path sidecar = fs::path(out).replace_extension(".json");
  {
    std::ofstream os(sidecar);
    if (!os) throw ConfigError(sidecar.string() + ": cannot write: " + std::strerror(errno));
    os << side.dump(2) << "\n";
  }
  registry.add_artifact(run.id, fs::absolute(out).string(), "export");
  std::cout << "exported run " << run.id << " (" << run.spec.model.plugin() << ", " << tensors.size() << " tensors, "
            << convention << " names" << (convention == "torchvision" ? ": torchvision.models." + match.architecture : "")
            << ") to " << out << "\nsidecar: " << sidecar.string() << "\n";
  if (names == "auto" && match.architecture.empty()) std::cout << "(xp key names: " << match.reason << ")\n";
  return kOk;
}

}  // namespace

XP_CLI_COMMAND("export", "write a run's weights as safetensors (+ JSON sidecar; torchvision key names where they match)", export_run);

}  // namespace xp::cli
