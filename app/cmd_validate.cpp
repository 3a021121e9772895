// xp validate: resolve an experiment exactly as `xp run` would, dry-build every variant on the CPU
// (one batch through data -> model -> loss -> metrics), and say which runs it describes (variant,
// seed, config hash) or everything that is wrong with it, each with its file:line:col.
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "command.h"
#include "config/dry_build.h"
#include "config/experiment.h"
#include "options.h"
#include "plugin_loader.h"

namespace xp::cli {
namespace {

nlohmann::json to_json(const Value& v) {
  switch (v.type()) {
    case Value::Type::None: return nullptr;
    case Value::Type::Bool: return v.as_bool();
    case Value::Type::Int: return v.as_int();
    case Value::Type::Float: return v.as_float();
    case Value::Type::String: return v.as_string();
    case Value::Type::List: {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& e : v.as_list()) a.push_back(to_json(e));
      return a;
    }
    case Value::Type::Table: {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& [k, e] : v.as_table()) o[k] = to_json(e);
      return o;
    }
  }
  return nullptr;
}

int validate(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string file, format = "toml", seeds, print_mode;
  desc.add_options()("experiment", po::value(&file), "experiment TOML file")(
      "set", po::value<std::vector<std::string>>()->composing(), "override KEY=VALUE (repeatable), e.g. train.epochs=5")(
      "variant", po::value<std::vector<std::string>>()->composing(), "only this variant (repeatable)")(
      "seeds", po::value(&seeds), "replace [experiment] seeds, e.g. 1,2,3")(
      "print", po::value(&print_mode)->implicit_value("diff"),
      "print the resolved config: the first run in full, the others as what differs from it; --print full: "
      "every run in full")(
      "static", "check the file and the plugins' parameters only: skip the dry build of every variant")(
      "format", po::value(&format), "resolved config as toml (canonical, hashed) or json")(
      "partial", "validate only the tables present (a base file meant to be extended)")(
      "plugin-path", po::value<std::vector<std::string>>()->composing(), "extra plugin library or folder");
  po::positional_options_description pos;
  pos.add("experiment", 1);
  po::variables_map vm;
  const std::string usage =
      "xp validate EXPERIMENT.toml [--set K=V ...] [--variant V ...] [--seeds 1,2] [--print [full]] [--format toml|json]\n"
      "            [--static] [--partial]";
  if (!parse_options(usage, desc, pos, args, vm)) return kOk;
  if (format != "toml" && format != "json") throw UsageError("--format must be toml or json, not '" + format + "'");
  if (!print_mode.empty() && print_mode != "diff" && print_mode != "full") {
    // `xp validate --print FILE`: the file, not a print mode.
    if (!file.empty()) throw UsageError("--print takes no value or 'full', not '" + print_mode + "'");
    file = print_mode;
    print_mode = "diff";
  }
  if (file.empty()) throw UsageError("missing the experiment file\nusage: " + usage);

  ExperimentOptions options;
  if (vm.count("set")) options.sets = vm["set"].as<std::vector<std::string>>();
  if (vm.count("variant")) options.variants = vm["variant"].as<std::vector<std::string>>();
  if (!seeds.empty()) options.seeds = parse_seed_list(seeds);
  options.partial = vm.count("partial") > 0;

  load_plugins(vm.count("plugin-path") ? vm["plugin-path"].as<std::vector<std::string>>() : std::vector<std::string>{});
  PluginLoader loader;
  std::vector<std::string> notes;
  options.notes = &notes;
  const auto runs = resolve_experiment(file, options, loader);
  for (const auto& n : notes) std::cerr << "note: " << n << "\n";
  // The dry build needs data, model and loss; a partial file (a base to extend) has no runs to build.
  if (!vm.count("static") && !options.partial) config::dry_build_runs(runs);

  const bool print = !print_mode.empty();
  if (print && format == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : runs)
      out.push_back({{"experiment", r.experiment}, {"variant", r.variant}, {"seed", r.seed}, {"hash", r.hash},
                     {"config", to_json(Value(r.config))}});
    std::cout << out.dump(2) << "\n";
    return kOk;
  }
  std::cout << file << ": " << runs.size() << (runs.size() == 1 ? " run" : " runs") << " of experiment '"
            << (runs.empty() ? "" : runs.front().experiment) << "'\n";
  for (const auto& r : runs)
    std::cout << "  variant " << (r.variant.empty() ? "-" : r.variant) << "  seed " << r.seed << "  hash "
              << r.hash.substr(0, 12) << "\n";
  if (!print) return kOk;
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& r = runs[i];
    std::cout << "\n# variant " << (r.variant.empty() ? "-" : r.variant) << ", seed " << r.seed << ", sha256 "
              << r.hash << "\n";
    if (i == 0 || print_mode == "full") {
      std::cout << r.canonical;
      continue;
    }
    // What differs from the first run, as dotted keys (a config of 9 runs stays readable).
    const auto& first = runs.front().flat;
    std::cout << "# differs from the first run (variant " << (runs.front().variant.empty() ? "-" : runs.front().variant)
              << ", seed " << runs.front().seed << ") in:\n";
    for (const auto& [key, value] : r.flat) {
      auto it = first.find(key);
      if (it == first.end() || it->second != value) std::cout << key << " = " << value << "\n";
    }
    for (const auto& [key, value] : first)
      if (!r.flat.count(key)) std::cout << key << " = (not set; was " << value << ")\n";
  }
  if (print_mode != "full" && runs.size() > 1) std::cout << "\n(--print full: every run's config in full)\n";
  return kOk;
}

}  // namespace

XP_CLI_COMMAND("validate", "check an experiment file and list the runs it describes", validate);

}  // namespace xp::cli
