// xp augment preview: what the model will see. Resolves an experiment like `xp run`, builds the
// train split and the [[augment]] pipeline with the engine's own build_data_setup, loads samples
// with the data loader's load_sample (same per-sample Rng::for_sample(seed, epoch, position)),
// and draws them as a PNG grid, masks overlaid. --each shows every top-level transform alone.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <optional>

#include <opencv2/imgcodecs.hpp>

#include "command.h"
#include "config/experiment.h"
#include "data/data_loader.h"
#include "engine/experiment_runner.h"
#include "engine/sample_images.h"
#include "options.h"
#include "plugin_loader.h"
#include "preview_grid.h"
#include "xp/base/suggest.h"
#include "xp/base/atomic_file.h"
#include "xp/errors.h"

namespace xp::cli {
namespace {

namespace fs = std::filesystem;

const char* kAugmentUsage =
    "usage: xp augment preview EXPERIMENT.toml --out GRID.png [--variant V] [--set K=V ...] [--n N] [--seed S]\n"
    "                          [--epoch E] [--each]\n";

// Fails before any data is loaded when the grid could not be saved anyway.
void check_output_path(const fs::path& out) {
  std::string ext = out.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext != ".png") throw UsageError("--out must name a .png file, got '" + out.string() + "'");
  if (fs::is_directory(out)) throw UsageError("--out '" + out.string() + "' is a folder; name a .png file");
  const fs::path dir = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  if (!fs::is_directory(dir))
    throw UsageError("cannot write '" + out.string() + "': folder '" + dir.string() + "' does not exist");
  if (::access(dir.c_str(), W_OK) != 0)
    throw UsageError("cannot write '" + out.string() + "': folder '" + dir.string() + "' is not writable");
}

// The grid shows the samples after the whole pipeline, exactly as the model gets them, and maps
// float images back to pixels with the inverse of the last top-level `normalize` (rather than
// leaving normalize out, which would shift the Rng draws of any transform after it). A pipeline
// that makes floats some other way is shown min-max stretched (preview::to_display_rgb).
std::optional<preview::Denormalize> find_normalize(const std::vector<Params>& augment) {
  const auto n = engine::find_normalization(augment);  // shared with the trainer's TensorBoard images
  if (!n) return std::nullopt;
  return preview::Denormalize{n->mean, n->std, n->max_pixel_value};
}

std::string caption(const Sample& s, const DatasetInfo& info, const std::string& suffix = {}) {
  std::string c = "#" + std::to_string(s.index);
  if (info.task == Task::Classification && s.label >= 0)
    c += " " + (s.label < static_cast<int64_t>(info.class_names.size()) ? info.class_names[static_cast<size_t>(s.label)]
                                                                          : std::to_string(s.label));
  return suffix.empty() ? c : c + " " + suffix;
}

// A sample and where it sits in the epoch (its Rng depends on the position, as in the loader).
struct Picked {
  int64_t position = 0;
  Sample augmented;
};

// The first n good samples of `order` through `augment`; unreadable ones are skipped, as the
// loader skips them. A transform that throws is the pipeline not fitting this data: exit 2.
std::vector<Picked> load_samples(const engine::TrainSetup& setup, const std::vector<int64_t>& order, int64_t epoch,
                                 size_t n, size_t& skipped) {
  std::vector<Picked> out;
  for (size_t pos = 0; pos < order.size() && out.size() < n; ++pos) {
    const auto position = static_cast<int64_t>(pos);
    try {
      out.push_back({position, data::load_sample(*setup.train, setup.augment, setup.seed, epoch, position, order[pos])});
    } catch (const BadSample& e) {
      std::cerr << "note: skipped unreadable sample " << order[pos] << ": " << e.what() << "\n";
      ++skipped;
    } catch (const ConfigError&) {
      throw;
    } catch (const std::exception& e) {
      throw ConfigError("loading and augmenting train sample " + std::to_string(order[pos]) + " failed: " +
                        e.what());
    }
  }
  return out;
}

int preview_command(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string file, out, variant;
  int64_t n = 0, seed = -1, epoch = -1;
  desc.add_options()("experiment", po::value(&file), "experiment TOML file")(
      "out,o", po::value(&out), "the PNG to write (required)")(
      "variant", po::value(&variant), "this variant's pipeline (default: the first)")(
      "set", po::value<std::vector<std::string>>()->composing(), "override KEY=VALUE (repeatable), e.g. data.image_size=128")(
      "n", po::value(&n), "samples: tiles of the grid (default 16), or per row with --each (default 4)")(
      "seed", po::value(&seed), "run seed the augmentation draws come from (default: the experiment's first)")(
      "epoch", po::value(&epoch), "show the first samples of this epoch in training's order (sampler); "
                                  "default: samples 0, 1, 2, ... as drawn at epoch 0")(
      "each", "one row per [[augment]] transform: each sample, then that transform alone (p forced to 1)")(
      "plugin-path", po::value<std::vector<std::string>>()->composing(), "extra plugin library or folder");
  po::positional_options_description pos;
  pos.add("experiment", 1);
  po::variables_map vm;
  if (!parse_options(std::string(kAugmentUsage).substr(7), desc, pos, args, vm)) return kOk;
  const bool each = vm.count("each") > 0;
  if (file.empty()) throw UsageError(std::string("name an experiment file\n") + kAugmentUsage);
  if (out.empty()) throw UsageError(std::string("--out GRID.png is required: where to write the grid\n") + kAugmentUsage);
  if (!vm.count("n")) n = each ? 4 : 16;
  if (n < 1 || n > 1024) throw UsageError("--n must be between 1 and 1024, got " + std::to_string(n));
  if (vm.count("seed") && seed < 0) throw UsageError("--seed must be non-negative");
  if (vm.count("epoch") && epoch < 0) throw UsageError("--epoch must be non-negative");
  check_output_path(out);

  ExperimentOptions options;
  if (vm.count("set")) options.sets = vm["set"].as<std::vector<std::string>>();
  if (!variant.empty()) options.variants = {variant};
  if (vm.count("seed")) options.seeds = std::vector<int64_t>{seed};
  load_plugins(vm.count("plugin-path") ? vm["plugin-path"].as<std::vector<std::string>>() : std::vector<std::string>{});
  PluginLoader loader;
  const auto runs = resolve_experiment(file, options, loader);
  if (runs.empty()) throw ConfigError(file + ": the experiment describes no runs");
  const RunSpec& spec = runs.front();
  const std::string name = spec.experiment + (spec.variant.empty() ? "" : " / " + spec.variant);
  if (variant.empty() && !spec.variant.empty())
    std::cerr << "note: showing variant '" << spec.variant << "' (choose another with --variant)\n";
  if (spec.augment.empty())
    throw ConfigError(file + ": " + name + " has no [[augment]] pipeline, so there is nothing to preview "
                      "(train-time transforms are [[augment]] tables, see docs/augmentations.md)");

  engine::TrainSetup setup = engine::build_data_setup(spec);
  if (!setup.train || setup.train->size() == 0) throw ConfigError(file + ": the train split of " + name + " is empty");
  std::vector<int64_t> order;
  if (epoch >= 0) {
    order = engine::epoch_order(setup, epoch);
  } else {
    order.resize(setup.train->size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
    epoch = 0;
  }

  std::vector<std::string> transforms;
  for (const auto& p : spec.augment) transforms.push_back(p.plugin());
  size_t skipped = 0;
  std::vector<preview::Row> rows;
  if (!each) {
    const auto picked = load_samples(setup, order, epoch, static_cast<size_t>(n), skipped);
    const size_t columns = static_cast<size_t>(std::ceil(std::sqrt(static_cast<double>(picked.size()))));
    for (size_t i = 0; i < picked.size(); ++i) {
      if (i % columns == 0) rows.emplace_back();
      const Sample& s = picked[i].augmented;
      rows.back().tiles.push_back({s.image, s.mask, caption(s, setup.info)});
    }
  } else {
    // Originals: the same samples with no transform (an empty pipeline through the same loader).
    engine::TrainSetup plain = setup;
    plain.augment.clear();
    const auto originals = load_samples(plain, order, epoch, static_cast<size_t>(n), skipped);
    for (size_t t = 0; t < spec.augment.size(); ++t) {
      // Forcing p to 1 shows what the transform does; its children (one_of, compose) keep theirs.
      Params params = spec.augment[t];
      if (params.has("p")) params = params.with("p", Value(1.0));
      const auto alone = build_augmentation(engine::fill_from_dataset(params, setup.info));
      preview::Row row;
      row.caption = std::to_string(t + 1) + " " + transforms[t];
      for (const auto& o : originals) {
        const Sample& original = o.augmented;
        Sample s = original;  // transforms never write into their input's pixels
        Rng rng = Rng::for_sample(setup.seed, epoch, o.position);
        try {
          alone->apply(s, rng);
        } catch (const std::exception& e) {
          throw ConfigError("[[augment]] " + transforms[t] + " failed on train sample " +
                            std::to_string(original.index) + ": " + e.what());
        }
        row.tiles.push_back({original.image, original.mask, caption(original, setup.info)});
        row.tiles.push_back({s.image, s.mask, caption(s, setup.info, transforms[t])});
      }
      rows.push_back(std::move(row));
    }
  }
  if (rows.empty()) throw ConfigError(file + ": no readable sample in the train split of " + name);

  const auto grid = preview::render_grid(rows, find_normalize(spec.augment));
  // Encoded in memory, then written atomically: the file error names the OS's reason, and an
  // unknown extension is a usage error of its own.
  std::vector<uchar> encoded;
  std::string ext = std::filesystem::path(out).extension().string();
  try {
    if (ext.empty() || !cv::imencode(ext, grid.image, encoded))
      throw UsageError("cannot write '" + out + "': no image format for the extension '" + ext +
                       "' (use .png or .jpg)");
  } catch (const cv::Exception&) {
    throw UsageError("cannot write '" + out + "': no image format for the extension '" + ext + "' (use .png or .jpg)");
  }
  write_file_atomically(out, std::string_view(reinterpret_cast<const char*>(encoded.data()), encoded.size()),
                        "preview image");

  std::string pipeline;
  for (const auto& t : transforms) pipeline += (pipeline.empty() ? "" : ", ") + t;
  std::cout << name << ", seed " << spec.seed << ", epoch " << epoch << ": [[augment]] " << pipeline << "\n"
            << "wrote " << out << ": " << grid.image.cols << "x" << grid.image.rows << " px, " << grid.rows
            << (grid.rows == 1 ? " row" : " rows") << " x " << grid.columns << " columns, " << grid.tiles << " tiles";
  if (setup.info.task == Task::Segmentation) std::cout << " (" << grid.tiles_with_mask << " with mask pixels)";
  std::cout << "\n";
  if (skipped) std::cout << "skipped " << skipped << " unreadable samples\n";
  return kOk;
}

int augment(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::cerr << kAugmentUsage;
    return kUsage;
  }
  if (args[0] == "--help" || args[0] == "-h") {
    std::cout << kAugmentUsage;
    return kOk;
  }
  if (args[0] == "preview") return preview_command(std::vector<std::string>(args.begin() + 1, args.end()));
  throw UsageError("unknown subcommand 'augment " + args[0] + "'" + did_you_mean(args[0], {"preview"}) + "\n" +
                   kAugmentUsage);
}

}  // namespace

XP_CLI_COMMAND("augment", "augment preview: draw the experiment's [[augment]] pipeline on real samples (PNG)", augment);

}  // namespace xp::cli
