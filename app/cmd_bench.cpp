// xp bench loader: is the data pipeline fast enough to keep the model busy? Resolves an experiment
// like `xp run`, then (1) times each stage of one sample's way through the loader on one thread
// (the dataset's load, decoding where the dataset left images encoded, every top-level [[augment]]
// transform (a crop that decodes only its region counts that decode), the conversion to a tensor,
// collation) in CPU time of that thread, and (2) runs the real multi-threaded loader over the train
// split for a number of batches and reports images/s beside what the single-thread profile
// predicts for that many workers. No model is built.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <thread>

#include <torch/cuda.h>

#include "command.h"
#include "config/experiment.h"
#include "data/collate.h"
#include "data/data_loader.h"
#include "engine/experiment_runner.h"
#include "options.h"
#include "plugin_loader.h"
#include "xp/base/suggest.h"
#include "xp/errors.h"

namespace xp::cli {
namespace {

const char* kBenchUsage =
    "usage: xp bench loader EXPERIMENT.toml [--variant V] [--set K=V ...] [--workers N] [--batches N]\n"
    "                       [--profile N] [--uint8 auto|on|off]\n";

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct StageTimes {
  std::vector<std::string> names;
  std::vector<double> seconds;
  void add(size_t i, double s) { seconds[i] += s; }
};

int loader_command(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string file, variant, uint8_mode = "auto";
  int64_t workers = -1, batches = 40, profile = 200;
  desc.add_options()("experiment", po::value(&file), "experiment TOML file")(
      "variant", po::value(&variant), "this variant's data pipeline (default: the first)")(
      "set", po::value<std::vector<std::string>>()->composing(), "override KEY=VALUE (repeatable)")(
      "workers", po::value(&workers), "loader threads (default: the experiment's train.workers)")(
      "batches", po::value(&batches), "batches the multi-threaded loader is timed over (default 40)")(
      "profile", po::value(&profile), "samples timed stage by stage on one thread (default 200)")(
      "uint8", po::value(&uint8_mode),
      "uint8 batches with the conversion (and a final normalize) left to the device, as the trainer does "
      "with train.normalize_on_device: auto (= the experiment's setting, on when it would train on CUDA), on, off")(
      "plugin-path", po::value<std::vector<std::string>>()->composing(), "extra plugin library or folder");
  po::positional_options_description pos;
  pos.add("experiment", 1);
  po::variables_map vm;
  if (!parse_options(std::string(kBenchUsage).substr(7), desc, pos, args, vm)) return kOk;
  if (file.empty()) throw UsageError(std::string("name an experiment file\n") + kBenchUsage);
  if (batches < 1) throw UsageError("--batches must be at least 1");
  if (profile < 1) throw UsageError("--profile must be at least 1");
  if (uint8_mode != "auto" && uint8_mode != "on" && uint8_mode != "off")
    throw UsageError("--uint8 must be auto, on or off, got '" + uint8_mode + "'");

  ExperimentOptions options;
  if (vm.count("set")) options.sets = vm["set"].as<std::vector<std::string>>();
  if (!variant.empty()) options.variants = {variant};
  load_plugins(vm.count("plugin-path") ? vm["plugin-path"].as<std::vector<std::string>>() : std::vector<std::string>{});
  PluginLoader plugin_loader;
  const auto runs = resolve_experiment(file, options, plugin_loader);
  if (runs.empty()) throw ConfigError(file + ": the experiment describes no runs");
  const RunSpec& spec = runs.front();
  engine::TrainSetup setup = engine::build_data_setup(spec);
  if (!setup.train || setup.train->size() == 0) throw ConfigError(file + ": the train split is empty");
  const auto& o = setup.options;

  // The trainer's decision (engine/trainer.cpp): CUDA when the run would train there.
  const bool cuda = torch::cuda::is_available() && o.device != "cpu";
  if (workers < 0) workers = engine::resolve_workers(o.workers, cuda);
  if (uint8_mode == "auto") uint8_mode = (o.normalize_on_device == "on" || (o.normalize_on_device == "auto" && cuda)) ? "on" : "off";
  std::vector<std::shared_ptr<Augmentation>> augment = setup.augment;
  std::vector<std::string> names;
  for (const auto& p : spec.augment) names.push_back(p.plugin());
  std::optional<data::PixelConversion> deferred;
  if (uint8_mode == "on") {
    deferred = data::PixelConversion::unit_range();
    if (setup.augment_final_normalize) {
      augment.pop_back();
      names.pop_back();
      const auto& n = *setup.augment_final_normalize;
      deferred = data::PixelConversion::normalize(n.mean, n.std, n.max_pixel_value);
    }
  }
  const std::vector<int64_t> order = engine::epoch_order(setup, 0);

  // 1. One thread, stage by stage, in that thread's CPU time.
  StageTimes t;
  t.names.push_back("load (" + spec.data.plugin() + ")");
  t.names.push_back("decode what stayed encoded");
  for (const auto& n : names) t.names.push_back(n);
  t.names.push_back(deferred ? "to uint8 tensor" : "to float tensor");
  t.seconds.assign(t.names.size(), 0.0);
  const int64_t n_profile = std::min<int64_t>(profile, static_cast<int64_t>(order.size()));
  std::vector<data::PreparedSample> prepared;
  int64_t profiled = 0, bad = 0;
  for (int64_t pos = 0; pos < n_profile; ++pos) {
    double c0 = thread_cpu_seconds();
    Sample s;
    try {
      s = setup.train->load_lazy(static_cast<size_t>(order[static_cast<size_t>(pos)]));
    } catch (const BadSample&) {
      ++bad;
      continue;
    }
    double c1 = thread_cpu_seconds();
    t.add(0, c1 - c0);
    Rng rng = Rng::for_sample(setup.seed, 0, pos);
    auto decode = [&] {  // as the loader does (data::load_sample), timed on its own
      if (!s.encoded) return;
      decode_pending(s);
      const double c2 = thread_cpu_seconds();
      t.add(1, c2 - c1);
      c1 = c2;
    };
    try {
      for (size_t a = 0; a < augment.size(); ++a) {
        if (!augment[a]->reads_encoded()) decode();
        augment[a]->apply(s, rng);
        const double c2 = thread_cpu_seconds();
        t.add(2 + a, c2 - c1);
        c1 = c2;
      }
      decode();
    } catch (const BadSample&) {
      ++bad;
      continue;
    }
    data::PreparedSample p = data::prepare_sample(s, deferred ? &*deferred : nullptr);
    t.add(t.seconds.size() - 1, thread_cpu_seconds() - c1);
    if (static_cast<int64_t>(prepared.size()) < o.batch_size) prepared.push_back(std::move(p));
    ++profiled;
  }
  if (profiled == 0) throw ConfigError(file + ": no readable sample among the first " + std::to_string(n_profile));
  const double c0 = thread_cpu_seconds();
  data::collate(prepared, setup.info.task, false, deferred ? &*deferred : nullptr);
  const double collate_per_sample = (thread_cpu_seconds() - c0) / static_cast<double>(prepared.size());

  std::printf("%s%s: train split %zu samples, batch %ld, %s batches%s\n", spec.experiment.c_str(),
              spec.variant.empty() ? "" : (" / " + spec.variant).c_str(), setup.train->size(),
              static_cast<long>(o.batch_size), deferred ? "uint8" : "float32",
              deferred ? " (conversion left to the device)" : "");
  std::printf("per sample, one thread, CPU time over %ld samples:\n", static_cast<long>(profiled));
  double total = 0;
  for (size_t i = 0; i < t.names.size(); ++i) {
    const double ms = 1e3 * t.seconds[i] / static_cast<double>(profiled);
    total += ms;
    std::printf("  %-28s %8.3f ms\n", t.names[i].c_str(), ms);
  }
  std::printf("  %-28s %8.3f ms   (collating thread)\n", "collate", 1e3 * collate_per_sample);
  std::printf("  %-28s %8.3f ms   -> %.0f images/s per worker\n", "worker total", total, 1e3 / total);
  if (bad) std::printf("  (%ld unreadable samples skipped)\n", static_cast<long>(bad));

  // 2. The real loader: workers + the collating thread, pinned batches when CUDA is there.
  data::LoaderOptions lo;
  lo.batch_size = o.batch_size;
  lo.drop_last = true;
  lo.workers = workers;
  lo.prefetch = o.prefetch;
  lo.seed = setup.seed;
  lo.task = setup.info.task;
  lo.pin_memory = cuda && o.pin_memory;
  lo.deferred_conversion = deferred;
  std::vector<int64_t> timed = order;
  const size_t wanted = static_cast<size_t>(batches * o.batch_size);
  while (timed.size() < wanted) timed.insert(timed.end(), order.begin(), order.end());
  timed.resize(wanted);
  // Timed from the loader's start: the workers fill `prefetch` batches ahead, so timing from the
  // first batch on would count those as free.
  const auto w0 = std::chrono::steady_clock::now();
  data::EpochLoader loader(setup.train, augment, lo, 0, timed);
  int64_t images = 0;
  while (auto b = loader.next()) images += b->size();
  if (images == 0) throw ConfigError(file + ": the loader produced no batch");
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  const double rate = static_cast<double>(images) / wall;
  const double predicted = static_cast<double>(std::max<int64_t>(workers, 1)) * 1e3 / total;
  std::printf("loader, %ld workers%s: %ld images in %.2f s = %.0f images/s (%.2f of %ld x one thread's %.0f; "
              "%u cores)\n",
              static_cast<long>(workers), lo.pin_memory ? ", pinned" : "", static_cast<long>(images), wall, rate,
              rate / predicted, static_cast<long>(std::max<int64_t>(workers, 1)), 1e3 / total,
              std::thread::hardware_concurrency());
  // decoder = "nvjpeg_batched": how the batches were shared between the workers and the GPU stage.
  std::shared_ptr<BatchDecodeStage> stage;
  for (size_t i = 0; i < std::min<size_t>(order.size(), 16) && !stage; ++i) try {
      Sample s = setup.train->load_lazy(static_cast<size_t>(order[i]));
      if (s.encoded) stage = s.encoded->batch_stage();
    } catch (const BadSample&) {
    }
  if (stage && deferred) {
    std::printf("%s\n", summarize(*stage).c_str());
  } else if (stage) {
    std::printf("batch decode stage unused: batches are float32 (--uint8 off), so the workers decode everything\n");
  }
  return kOk;
}

int bench(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::cerr << kBenchUsage;
    return kUsage;
  }
  if (args[0] == "--help" || args[0] == "-h") {
    std::cout << kBenchUsage;
    return kOk;
  }
  if (args[0] == "loader") return loader_command(std::vector<std::string>(args.begin() + 1, args.end()));
  throw UsageError("unknown subcommand 'bench " + args[0] + "'" + did_you_mean(args[0], {"loader"}) + "\n" +
                   kBenchUsage);
}

}  // namespace

XP_CLI_COMMAND("bench", "bench loader: time the experiment's data pipeline stage by stage and with all workers", bench);

}  // namespace xp::cli
