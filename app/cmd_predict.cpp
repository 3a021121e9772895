// xp predict RUN INPUT... --out PATH: a finished run's model (or an ensemble run's members,
// averaged) applied to new images: classification CSV / Kaggle submission, or whole scenes
// segmented with sliding windows (probability map, mask, objects CSV). Every job is recorded as
// an artifact ("predictions") of the model run, so `xp show RUN` lists the predictions made with it.
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include "command.h"
#include "config/experiment.h"
#include "engine/experiment_runner.h"
#include "eval/ensemble.h"
#include "eval/tta.h"
#include "inference/classifier.h"
#include "inference/inputs.h"
#include "inference/objects.h"
#include "inference/scene_raster.h"
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
using inference::LoadedRun;

std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string format_probability(double p) {
  std::ostringstream os;
  os << std::setprecision(8) << p;
  return os.str();
}

std::vector<std::string> class_names(const LoadedRun& run, int64_t classes) {
  std::vector<std::string> names = run.setup.info.class_names;
  if (static_cast<int64_t>(names.size()) != classes) {
    names.clear();
    for (int64_t k = 0; k < classes; ++k) names.push_back(std::to_string(k));
  }
  return names;
}

// Hierarchical runs name their classes "species/disease".
bool hierarchical(const std::vector<std::string>& names) {
  if (names.empty()) return false;
  for (const auto& n : names)
    if (n.find('/') == std::string::npos) return false;
  return true;
}

struct ClassTable {
  std::vector<std::string> ids, sources;     // one per row
  std::vector<int64_t> labels;               // true label per row (split mode), empty otherwise
  torch::Tensor probabilities;               // [N, K]
};

void write_class_csv(const fs::path& out, const ClassTable& t, const std::vector<std::string>& names, int64_t top_k,
                     const std::string& format, const std::string& id_column, const std::string& label_column) {
  std::ofstream os(out);
  if (!os) throw ConfigError(out.string() + ": cannot write: " + std::strerror(errno));
  const int64_t n = t.probabilities.size(0);
  const int64_t k = std::min<int64_t>(top_k, t.probabilities.size(1));
  const bool split = !t.labels.empty();
  if (format == "submission") {
    os << csv_cell(id_column) << ',' << csv_cell(label_column) << '\n';
    torch::Tensor best = n ? t.probabilities.argmax(1) : torch::zeros({0}, torch::kLong);
    for (int64_t i = 0; i < n; ++i) os << csv_cell(t.ids[i]) << ',' << csv_cell(names[best[i].item<int64_t>()]) << '\n';
    return;
  }
  const bool tree = hierarchical(names);
  std::vector<std::string> species_of(names.size());
  for (size_t c = 0; c < names.size(); ++c) species_of[c] = names[c].substr(0, names[c].find('/'));
  if (split) os << "index,";
  os << "path,";
  if (split) os << "label,correct,";
  os << "predicted,probability";
  if (tree) os << ",species,disease,species_probability,cascade_probability";
  for (int64_t j = 1; j <= k; ++j) os << ",class_" << j << ",probability_" << j;
  os << '\n';
  if (n == 0) return;
  auto [top_p, top_i] = t.probabilities.topk(k, 1);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t best = top_i[i][0].item<int64_t>();
    if (split) os << t.ids[i] << ',';
    os << csv_cell(t.sources[i]) << ',';
    if (split) {
      const int64_t y = t.labels[i];
      os << csv_cell(y >= 0 && y < static_cast<int64_t>(names.size()) ? names[y] : std::to_string(y)) << ','
         << (y == best ? 1 : 0) << ',';
    }
    os << csv_cell(names[best]) << ',' << format_probability(top_p[i][0].item<double>());
    if (tree) {
      const std::string& species = species_of[best];
      double species_p = 0;
      for (size_t c = 0; c < names.size(); ++c)
        if (species_of[c] == species) species_p += t.probabilities[i][static_cast<int64_t>(c)].item<double>();
      os << ',' << csv_cell(species) << ',' << csv_cell(names[best].substr(species.size() + 1)) << ','
         << format_probability(species_p) << ',' << format_probability(top_p[i][0].item<double>());
    }
    for (int64_t j = 0; j < k; ++j)
      os << ',' << csv_cell(names[top_i[i][j].item<int64_t>()]) << ',' << format_probability(top_p[i][j].item<double>());
    os << '\n';
  }
  if (!os) throw ConfigError(out.string() + ": write failed: " + std::strerror(errno));
}

std::vector<double> parse_scales(const std::string& text) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      double v = std::stod(item, &used);
      if (used != item.size()) throw std::invalid_argument(item);
      out.push_back(v);
    } catch (const std::exception&) {
      throw UsageError("--scales expects numbers separated by commas, e.g. --scales 1,0.5; got '" + text + "'");
    }
  }
  if (out.empty()) throw UsageError("--scales expects at least one scale");
  return out;
}

std::pair<int64_t, int64_t> parse_window(const std::string& text) {
  if (text.empty()) return {0, 0};
  int64_t h = 0, w = 0;
  char x = 0;
  std::istringstream is(text);
  if ((is >> h) && is.eof()) return {h, h};
  is.clear();
  is.str(text);
  if ((is >> h >> x >> w) && x == 'x' && is.eof() && h > 0 && w > 0) return {h, w};
  throw UsageError("--window expects a size like 512 or 512x768, not '" + text + "'");
}

struct Job {
  std::string split;
  size_t inputs = 0, predicted = 0;
  std::string inputs_hash;
  std::vector<std::pair<std::string, std::string>> skipped;
  std::vector<std::string> outputs;
  std::map<std::string, double> metrics;
};

void record_job(RunRegistry* registry, const ModelRuns& models, const fs::path& manifest, const Job& job,
                const std::vector<std::string>& args, const nlohmann::json& options) {
  nlohmann::json j;
  j["model_run"] = models.run.id;
  std::vector<std::string> member_ids;
  for (const auto& m : models.members) member_ids.push_back(m.id);
  j["members"] = member_ids;
  j["experiment"] = models.run.info.experiment;
  j["variant"] = models.run.info.variant;
  if (!job.split.empty()) j["split"] = job.split;
  j["inputs"] = job.inputs;
  j["inputs_sha256"] = job.inputs_hash;
  j["predicted"] = job.predicted;
  j["skipped"] = job.skipped.size();
  nlohmann::json skipped = nlohmann::json::array();
  for (const auto& [p, why] : job.skipped) skipped.push_back({{"path", p}, {"reason", why}});
  j["skipped_inputs"] = skipped;
  j["outputs"] = job.outputs;
  if (!job.metrics.empty()) j["metrics"] = job.metrics;
  j["options"] = options;
  std::string command = "xp predict";
  for (const auto& a : args) command += " " + a;
  j["command_line"] = command;
  j["time"] = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  j["xp_version"] = XP_VERSION_STRING;
  std::ofstream(manifest) << j.dump(2) << "\n";
  if (registry) registry->add_artifact(models.run.id, fs::absolute(manifest).string(), "predictions");
}

int predict(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string out_option, checkpoint = "best", split, tta = "run", format = "csv", id_column = "image_id",
                          label_column = "label", path_column = "path", device = "run", precision = "run",
                          registry_option, window_text, blend = "hann", scales_text = "1", merge = "mean",
                          prob_format = "png16", georef = "auto";
  int64_t top_k = 5, batch_size = 0, min_area = 1, threads = 0, workers = -2;
  double overlap = 0.25, threshold = -1;
  desc.add_options()("run", po::value<std::string>(), "run id (or unique prefix, or run folder), or an ensemble run")(
      "inputs", po::value<std::vector<std::string>>()->composing(), "image files, folders (recursive) or CSV files")(
      "out,o", po::value(&out_option), "output: a CSV file (classification) or a folder (segmentation)")(
      "checkpoint", po::value(&checkpoint), "best (default) or last")(
      "split", po::value(&split), "predict the run's own train|val|test split instead of files (CSV with true labels)")(
      "tta", po::value(&tta), "run (the run's train.tta, default), none, hflip, flips; classification also "
                              "multiscale, five_crop; segmentation also d4")(
      "top-k", po::value(&top_k), "classes (with probabilities) per row (default 5)")(
      "format", po::value(&format), "csv (default) or submission (two columns: --id-column, --label-column)")(
      "id-column", po::value(&id_column), "submission: name of the id column (default image_id; value: the file name)")(
      "label-column", po::value(&label_column), "submission: name of the label column (default label)")(
      "path-column", po::value(&path_column), "CSV inputs: the column holding image paths (default path)")(
      "device", po::value(&device), "run (the run's train.device, default), auto, cpu, cuda, cuda:N")(
      "precision", po::value(&precision), "run (default), fp32, bf16, fp16 (autocast; the CPU has bf16 only)")(
      "threads", po::value(&threads), "torch threads (default: the run's train.threads, else every core)")(
      "workers", po::value(&workers),
      "classification: threads reading and preparing files (default: the run's train.workers; -1 auto; 0 the main "
      "thread)")(
      "batch-size", po::value(&batch_size), "images or windows per forward pass (default: the run's eval batch size)")(
      "window", po::value(&window_text), "segmentation: window size, N or HxW (default: the run's tile size)")(
      "overlap", po::value(&overlap), "segmentation: fraction of a window shared with its neighbour (default 0.25)")(
      "blend", po::value(&blend), "segmentation: hann (default) or uniform weights when windows overlap")(
      "scales", po::value(&scales_text), "segmentation: scales to predict at, e.g. 1,0.5 (default 1)")(
      "merge", po::value(&merge), "segmentation: mean (default) or max over scales")(
      "threshold", po::value(&threshold), "segmentation: mask threshold (default: the run's calibrated one, else 0.5)")(
      "prob-format", po::value(&prob_format), "segmentation: png16 (default, p x 65535) or tiff (float32)")(
      "min-area", po::value(&min_area), "segmentation: smallest object listed, in pixels (default 1)")(
      "georef", po::value(&georef), "segmentation: auto (default: GeoTIFF outputs for georeferenced inputs where "
                                    "built with GDAL), yes (required), no")(
      "no-calibration", "ignore the run's calibrated temperature and threshold")(
      "no-record", "do not record the job in the registry")(
      "registry", po::value(&registry_option), "registry file (default $XP_REGISTRY or ./xp-runs/registry.db)")(
      "plugin-path", po::value<std::vector<std::string>>()->composing(), "extra plugin library or folder");
  po::positional_options_description pos;
  pos.add("run", 1).add("inputs", -1);
  po::variables_map vm;
  const std::string usage =
      "xp predict RUN INPUT... --out PATH [--checkpoint best|last] [--tta MODE] [--top-k K]\n"
      "           [--format csv|submission] [--window N] [--overlap F] [--scales 1,0.5] ...\n"
      "       xp predict RUN --split test --out PATH";
  if (!parse_options(usage, desc, pos, args, vm)) return kOk;
  if (!vm.count("run")) throw UsageError("name the run to predict with\nusage: " + usage);
  if (out_option.empty()) throw UsageError("--out is required (a CSV file, or a folder for segmentation)");
  const std::vector<std::string> inputs =
      vm.count("inputs") ? vm["inputs"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (split.empty() && inputs.empty()) throw UsageError("name the images to predict, or --split train|val|test\nusage: " + usage);
  if (!split.empty() && !inputs.empty()) throw UsageError("--split predicts the run's own data; give no inputs with it");
  if (!split.empty() && split != "train" && split != "val" && split != "test")
    throw UsageError("--split must be train, val or test, not '" + split + "'" + did_you_mean(split, {"train", "val", "test"}));
  if (checkpoint != "best" && checkpoint != "last")
    throw UsageError("--checkpoint must be best or last, not '" + checkpoint + "'" + did_you_mean(checkpoint, {"best", "last"}));
  if (format != "csv" && format != "submission")
    throw UsageError("--format must be csv or submission, not '" + format + "'" + did_you_mean(format, {"csv", "submission"}));
  if (prob_format != "png16" && prob_format != "tiff")
    throw UsageError("--prob-format must be png16 or tiff, not '" + prob_format + "'" + did_you_mean(prob_format, {"png16", "tiff"}));
  if (georef != "auto" && georef != "yes" && georef != "no")
    throw UsageError("--georef must be auto, yes or no, not '" + georef + "'" + did_you_mean(georef, {"auto", "yes", "no"}));
  if (georef == "yes" && !inference::scene_io_has_gdal())
    throw ConfigError("--georef yes: georeferenced output needs GDAL, and this xp was built without it "
                      "(install libgdal-dev and rebuild)");
  if (top_k < 1) throw UsageError("--top-k must be at least 1");
  if (!(overlap >= 0 && overlap <= 0.95)) throw UsageError("--overlap must be in [0, 0.95]");
  const auto window = parse_window(window_text);
  const auto scales = parse_scales(scales_text);
  const bool calibrate = !vm.count("no-calibration");

  load_plugins(vm.count("plugin-path") ? vm["plugin-path"].as<std::vector<std::string>>() : std::vector<std::string>{});
  PluginLoader loader;
  const fs::path registry_path = existing_registry_path(registry_option);
  RunRegistry registry(registry_path);
  const std::string run_arg = vm["run"].as<std::string>();
  const auto start = std::chrono::steady_clock::now();
  Job job;
  job.split = split;
  nlohmann::json recorded_options = {{"checkpoint", checkpoint}, {"tta", tta}, {"calibration", calibrate}};

  if (!split.empty()) {
    // The split as the run's own evaluation saw it (xp ensemble's member path).
    ModelRuns models = find_model_runs(registry, run_arg, checkpoint);
    std::vector<MemberPredictions> predictions;
    std::vector<double> weights;
    std::vector<std::string> names;
    std::shared_ptr<const Split> data;
    for (const auto& m : models.members) {
      const RunSpec spec = resolve_recorded_run(fs::path(m.info.run_dir) / "config.toml", loader);
      engine::TrainSetup setup = engine::build_data_setup(spec);
      const std::string mode = tta == "run" ? setup.options.tta : tta;
      EnsembleOptions eo;
      eo.tta = mode;
      eo.checkpoint = checkpoint;
      eo.split = split;
      eo.out = &std::cerr;
      predictions.push_back(predict_member({m.id, m.info.run_dir, 1.0}, eo, loader));
      if (predictions.back().task != Task::Classification)
        throw ConfigError("--split writes classification predictions; run " + m.id + " is a segmentation run "
                          "(its recorded test metrics are in xp show; xp ensemble " + m.id + " re-evaluates them)");
      double temperature = 1.0;
      if (auto it = m.summary.find("calib_temperature"); calibrate && it != m.summary.end() && it->second > 0) temperature = it->second;
      predictions.back().probabilities = inference::apply_temperature(predictions.back().probabilities, temperature);
      weights.push_back(1.0);
      if (names.empty()) {
        names = setup.info.class_names;
        data = split == "test" ? setup.test : split == "val" ? setup.val : setup.train;
      }
    }
    MemberPredictions mean = average_predictions(predictions, weights);
    job.metrics = score_predictions(mean, mean.present, predictions.front().metrics, split);
    ClassTable table;
    torch::Tensor rows = mean.present.nonzero().view({-1});
    table.probabilities = mean.probabilities.index_select(0, rows);
    for (int64_t r = 0; r < rows.size(0); ++r) {
      const int64_t i = rows[r].item<int64_t>();
      table.ids.push_back(std::to_string(i));
      std::string source;
      try {
        source = data ? data->load_lazy(static_cast<size_t>(i)).source : "";
      } catch (const std::exception&) {
      }
      table.sources.push_back(source.empty() ? split + "/" + std::to_string(i) : source);
      table.labels.push_back(mean.targets[i].item<int64_t>());
    }
    const int64_t classes = mean.probabilities.size(1);
    if (static_cast<int64_t>(names.size()) != classes) {
      names.clear();
      for (int64_t k = 0; k < classes; ++k) names.push_back(std::to_string(k));
    }
    write_class_csv(out_option, table, names, top_k, format, id_column, label_column);
    job.inputs = static_cast<size_t>(mean.present.size(0));
    job.predicted = static_cast<size_t>(rows.size(0));
    for (int64_t i = 0; i < mean.present.size(0); ++i)
      if (!mean.present[i].item<bool>()) job.skipped.emplace_back(split + "/" + std::to_string(i), "could not be loaded");
    job.inputs_hash = models.run.info.config_hash;
    job.outputs.push_back(fs::absolute(out_option).string());
    std::cout << "predicted " << job.predicted << " " << split << " samples of run " << models.run.id;
    for (const auto& [k, v] : job.metrics) std::cout << "  " << k << " " << std::setprecision(10) << v;
    std::cout << "\nwrote " << out_option << "\n";
    if (!vm.count("no-record")) record_job(&registry, models, fs::path(out_option + ".predict.json"), job, args, recorded_options);
    return job.predicted > 0 ? kOk : kRunFailed;
  }

  inference::LoadOptions lo;
  lo.checkpoint = checkpoint;
  lo.device = device;
  lo.precision = precision;
  lo.threads = threads;
  ModelRuns models = load_model_runs(registry, run_arg, lo, loader);
  if (!calibrate)
    for (auto& r : models.loaded) r.temperature = 1.0, r.threshold = 0.5;
  const inference::InputList list = inference::expand_inputs(inputs, path_column);
  for (const auto& m : list.missing) job.skipped.emplace_back(m, "no such file or folder");
  job.inputs = list.paths.size() + list.missing.size();
  job.inputs_hash = inference::inputs_fingerprint(list.paths);
  LoadedRun& first = models.loaded.front();
  for (auto& r : models.loaded)
    if (r.setup.info.task != first.setup.info.task) throw ConfigError("ensemble members differ in task");
  recorded_options["device"] = first.device.str();

  if (first.setup.info.task == Task::Classification) {
    inference::ClassifyOptions co;
    co.tta = tta == "run" ? first.setup.options.tta : tta;
    co.batch_size = batch_size;
    if (workers != -2) co.workers = workers;
    co.progress = &std::cerr;
    inference::ClassifyResult result = inference::classify_files(models.loaded, list.paths, co);
    job.skipped.insert(job.skipped.end(), result.skipped.begin(), result.skipped.end());
    ClassTable table;
    table.probabilities = result.probabilities;
    for (const auto& p : result.paths) {
      table.sources.push_back(p);
      table.ids.push_back(fs::path(p).filename().string());
    }
    const auto names = class_names(first, result.probabilities.size(1));
    if (!result.paths.empty()) write_class_csv(out_option, table, names, top_k, format, id_column, label_column);
    job.predicted = result.paths.size();
    if (!result.paths.empty()) job.outputs.push_back(fs::absolute(out_option).string());
    recorded_options["tta"] = co.tta;
  } else {
    std::error_code ec;
    fs::create_directories(out_option, ec);
    if (ec) throw ConfigError(out_option + ": cannot create the output folder: " + ec.message());
    if (models.loaded.size() > 1) throw ConfigError("scene segmentation with an ensemble run is not supported; name one member");
    inference::SceneOptions so;
    so.window.window_h = window.first;
    so.window.window_w = window.second;
    so.window.overlap = overlap;
    so.window.blend = blend;
    so.window.tta = tta == "run" ? (first.setup.options.tta == "none" ? "none" : first.setup.options.tta) : tta;
    so.window.batch_size = batch_size > 0 ? batch_size
                           : first.setup.options.eval_batch_size > 0 ? first.setup.options.eval_batch_size
                                                                     : first.setup.options.batch_size;
    so.scales = scales;
    so.merge = merge;
    so.threshold = threshold >= 0 ? threshold : first.threshold;
    if (!(so.threshold > 0 && so.threshold < 1)) throw UsageError("--threshold must be in (0, 1)");
    recorded_options.update({{"window", window_text.empty() ? "run" : window_text}, {"overlap", overlap}, {"blend", blend},
                             {"tta", so.window.tta}, {"scales", scales}, {"merge", merge}, {"threshold", so.threshold},
                             {"temperature", first.temperature}, {"georef", georef}});
    std::ofstream summary(fs::path(out_option) / "scenes.csv");
    summary << "path,width,height,objects,positive_fraction,seconds,probability,mask,objects_csv\n";
    std::set<std::string> stems;
    // On a GPU the first forward pass loads the model's kernels and sets up cuDNN (about 0.4 s for
    // the main job's UNet on an H200): done on a zero batch while the first scene is decoded.
    std::future<void> warmed;
    if (first.device.is_cuda()) {
      if (so.window.window_h <= 0 || so.window.window_w <= 0)
        std::tie(so.window.window_h, so.window.window_w) = inference::training_tile_size(first);
      so.window.precision = first.precision;
      so.window.device = first.device;
      warmed = std::async(std::launch::async, [&first, &so] {
        inference::warm_up(*first.setup.model, first.setup.info.channels, so.window);
      });
    }
    for (const auto& path : list.paths) {
      std::string reason;
      auto scene = inference::open_scene(path, static_cast<int>(first.setup.info.channels), reason);
      if (warmed.valid()) warmed.get();
      if (!scene) {
        std::cerr << "skipped " << path << ": " << reason << "\n";
        job.skipped.emplace_back(path, reason);
        continue;
      }
      // Georeferenced scenes give GeoTIFF outputs carrying their geotransform and projection.
      inference::Georeference geo;
      if (georef != "no") geo = scene->georeference;
      const std::string ext = fs::path(path).extension().string();
      const bool tiff_input = ext == ".tif" || ext == ".tiff" || ext == ".TIF" || ext == ".TIFF";
      if (georef == "yes" && geo.empty())
        throw ConfigError(path + " has no georeference (geotransform or projection) to carry (--georef yes)");
      if (georef == "auto" && tiff_input && !inference::scene_io_has_gdal())
        std::cerr << "note: " << path << ": this xp was built without GDAL; a GeoTIFF's georeference is not carried\n";
      std::string stem = fs::path(path).stem().string();
      for (int n = 2; !stems.insert(stem).second; ++n) stem = fs::path(path).stem().string() + "_" + std::to_string(n);
      const auto t0 = std::chrono::steady_clock::now();
      const fs::path base = fs::path(out_option) / stem;
      const bool geotiff = !geo.empty();
      const fs::path prob_file = base.string() + (prob_format == "png16" && !geotiff ? "_prob.png" : "_prob.tif");
      const fs::path mask_file = base.string() + (geotiff ? "_mask.tif" : "_mask.png");
      inference::RasterWriter prob_out(prob_file.string(), scene->width, scene->height,
                                       prob_format == "png16" ? CV_16U : CV_32F, geo);
      inference::RasterWriter mask_out(mask_file.string(), scene->width, scene->height, CV_8U, geo);
      inference::ObjectTracker tracker(scene->width);
      int64_t positive = 0;
      // In the sink (its own thread on a GPU). Not split further: writing the mask on a second
      // thread beside the probability map made both PNG writers' compression run serially (one
      // OpenCV pool), 3.5 s instead of 0.47 s for an 8192 x 8192 map on the H200 machine.
      double prob_seconds = 0, mask_seconds = 0;
      inference::SlidingWindowTimes times;
      so.window.times = &times;
      inference::segment_scene(first, *scene, so, [&](int64_t y0, const cv::Mat& probability, const cv::Mat& mask) {
        const auto t_sink = std::chrono::steady_clock::now();
        if (prob_format == "png16") {
          prob_out.write_rows(static_cast<int>(y0), probability);
        } else {
          cv::Mat f;
          probability.convertTo(f, CV_32F, 1.0 / inference::kProbabilityScale);
          prob_out.write_rows(static_cast<int>(y0), f);
        }
        const auto t_mask = std::chrono::steady_clock::now();
        prob_seconds += std::chrono::duration<double>(t_mask - t_sink).count();
        mask_out.write_rows(static_cast<int>(y0), mask);
        tracker.add_rows(mask, probability);
        positive += cv::countNonZero(mask);
        mask_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t_mask).count();
      });
      const auto t_rows = std::chrono::steady_clock::now();
      // Without GDAL both rasters are encoded whole here: side by side, each on its own thread.
      auto mask_closed = std::async(std::launch::async, [&mask_out] { mask_out.close(); });
      prob_out.close();
      mask_closed.get();
      const auto objects = tracker.finish(min_area);
      const fs::path objects_file = base.string() + "_objects.csv";
      inference::write_objects_csv(objects_file, objects);
      const auto t_done = std::chrono::steady_clock::now();
      const double seconds = std::chrono::duration<double>(t_done - t0).count();
      std::cerr << path << ": " << std::setprecision(3) << std::chrono::duration<double>(t_rows - t0).count()
                << " s windows and rows (" << prob_seconds + mask_seconds << " s of it writing rows and finding objects: "
                << prob_seconds << " s probabilities, " << mask_seconds << " s mask and objects), "
                << std::chrono::duration<double>(t_done - t_rows).count() << " s finishing the files and objects; "
                << times.batches << " batches, waited " << times.waiting_for_windows << " s for windows, "
                << times.waiting_for_rows << " s for the row sink\n";
      const double pixels = static_cast<double>(scene->width) * static_cast<double>(scene->height);
      summary << csv_cell(path) << ',' << scene->width << ',' << scene->height << ',' << objects.size() << ','
              << format_probability(static_cast<double>(positive) / pixels) << ',' << std::setprecision(4) << seconds
              << ',' << csv_cell(prob_file.filename().string()) << ',' << csv_cell(mask_file.filename().string()) << ','
              << csv_cell(objects_file.filename().string()) << '\n';
      std::cout << path << ": " << scene->width << " x " << scene->height << ", " << objects.size() << " objects, "
                << std::setprecision(3) << seconds << " s (" << std::setprecision(3)
                << pixels / 1e6 / std::max(seconds, 1e-9) << " Mpx/s)" << (geotiff ? ", georeferenced" : "") << "\n";
      for (const auto& f : {prob_file, mask_file, objects_file}) job.outputs.push_back(fs::absolute(f).string());
      ++job.predicted;
    }
    job.outputs.push_back(fs::absolute(fs::path(out_option) / "scenes.csv").string());
  }

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& [p, why] : job.skipped) std::cerr << "skipped " << p << ": " << why << "\n";
  std::cout << "predicted " << job.predicted << " of " << job.inputs << " inputs with run " << models.run.id << " ("
            << checkpoint << ".pt) in " << std::setprecision(3) << seconds << " s; " << job.skipped.size()
            << " skipped\n";
  if (job.predicted == 0) {
    std::cerr << "error: nothing could be predicted\n";
    return kRunFailed;
  }
  std::cout << "wrote " << out_option << "\n";
  if (!vm.count("no-record")) {
    const fs::path manifest = first.setup.info.task == Task::Classification ? fs::path(out_option + ".predict.json")
                                                                              : fs::path(out_option) / "predict.json";
    record_job(&registry, models, manifest, job, args, recorded_options);
  }
  return kOk;
}

}  // namespace

XP_CLI_COMMAND("predict", "apply a finished run's model to images or whole scenes (CSV, submission, masks, objects)", predict);

}  // namespace xp::cli
