#include "config/experiment.h"

#include <algorithm>
#include <set>

#include "config/canonical.h"
#include "config/config_node.h"
#include "config/monitor_check.h"
#include "config/overrides.h"
#include "config/param_validator.h"
#include "engine/train_schema.h"
#include "plugin_loader.h"
#include "xp/base/suggest.h"
#include "xp/base/sha256.h"
#include "xp/errors.h"

namespace fs = std::filesystem;

namespace xp {

namespace {

using config::Node;

const std::vector<std::string> kTopLevel = {"experiment", "data",    "model",         "loss",
                                            "sampler",    "augment", "eval_augment",  "batch_augment",
                                            "metrics",    "train",   "plugins",       "variants"};
const std::vector<std::string> kExperimentKeys = {"name", "description", "tags", "output", "seeds", "extends"};

// The single-plugin tables and the lists of plugin tables, with the plugin kind each holds.
const std::vector<std::pair<std::string, std::string>> kComponents = {
    {"data", "dataset"}, {"model", "model"}, {"loss", "loss"}, {"sampler", "sampler"}};
const std::vector<std::pair<std::string, std::string>> kComponentLists = {{"augment", "augmentation"},
                                                                          {"eval_augment", "augmentation"},
                                                                          {"batch_augment", "batch_augmentation"},
                                                                          {"metrics", "metric"}};

void check_keys(const Node& table, const std::vector<std::string>& allowed, const std::string& what) {
  for (const auto& [key, node] : table.fields)
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      throw ConfigError("unknown " + what + " '" + key + "'" + did_you_mean(key, allowed), node.key_where);
}

const std::string& require_string(const Node& n, const std::string& what) {
  if (!n.is_scalar() || n.scalar.type() != Value::Type::String)
    throw ConfigError(what + " must be a string, got " + n.type_name(), n.where);
  return n.scalar.as_string();
}

std::vector<std::string> require_strings(const Node& n, const std::string& what) {
  if (!n.is_array()) throw ConfigError(what + " must be an array of strings, got " + n.type_name(), n.where);
  std::vector<std::string> out;
  for (const auto& i : n.items) out.push_back(require_string(i, what + " element"));
  return out;
}

// Checks the top level and [experiment] of one file, before anything is merged, so that a typo
// is reported in the file that has it.
void check_structure(const Node& doc) {
  check_keys(doc, kTopLevel, "top-level table");
  if (const Node* e = doc.find("experiment")) {
    if (!e->is_table()) throw ConfigError("[experiment] must be a table, got " + e->type_name(), e->where);
    check_keys(*e, kExperimentKeys, "[experiment] key");
  }
  if (const Node* p = doc.find("plugins")) {
    if (!p->is_table()) throw ConfigError("[plugins] must be a table, got " + p->type_name(), p->where);
    check_keys(*p, {"paths"}, "[plugins] key");
  }
  if (const Node* v = doc.find("variants")) {
    if (!v->is_table()) throw ConfigError("[variants] must be a table of variants, got " + v->type_name(), v->where);
    std::vector<std::string> allowed;
    for (const auto& k : kTopLevel)
      if (k != "experiment" && k != "variants" && k != "plugins") allowed.push_back(k);
    for (const auto& [name, variant] : v->fields) {
      if (!variant.is_table())
        throw ConfigError("variant '" + name + "' must be a table ([variants." + name + "]), got " +
                              variant.type_name(),
                          variant.where);
      for (const auto& [key, node] : variant.fields)
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
          std::string why = (key == "experiment" || key == "variants" || key == "plugins")
                                ? " (a variant may change data, model, loss, sampler, augmentations, metrics and train)"
                                : did_you_mean(key, allowed);
          throw ConfigError("variant '" + name + "' cannot set '" + key + "'" + why, node.key_where);
        }
    }
  }
}

// Loads `file` and, recursively, what it extends. `chain` holds the files being loaded, to
// report a cycle instead of recursing forever.
Node load_with_extends(const fs::path& file, std::vector<fs::path>& chain, const std::string& extends_where) {
  std::error_code ec;
  const fs::path canonical = fs::weakly_canonical(file, ec);
  if (std::find(chain.begin(), chain.end(), canonical) != chain.end()) {
    std::string cycle;
    for (const auto& f : chain) cycle += f.filename().string() + " -> ";
    throw ConfigError("extends cycle: " + cycle + canonical.filename().string(), extends_where);
  }
  if (!extends_where.empty() && !fs::is_regular_file(file, ec))
    throw ConfigError("extends '" + file.string() + "', which does not exist", extends_where);
  Node doc = config::parse_toml_file(file.string());
  check_structure(doc);

  // [plugins] paths are relative to the file that names them; make them absolute now, before
  // merging loses track of which file that was.
  if (Node* plugins = doc.find("plugins"))
    if (Node* paths = plugins->find("paths")) {
      require_strings(*paths, "[plugins] paths");
      for (auto& p : paths->items) {
        fs::path path = p.scalar.as_string();
        if (path.is_relative()) path = file.parent_path() / path;
        p.scalar = Value(fs::absolute(path).lexically_normal().string());
      }
    }

  Node* experiment = doc.find("experiment");
  const Node* extends = experiment ? experiment->find("extends") : nullptr;
  if (!extends) return doc;
  const std::string base_name = require_string(*extends, "[experiment] extends");
  const std::string where = extends->where;
  experiment->fields.erase("extends");

  chain.push_back(canonical);
  Node merged = load_with_extends((file.parent_path() / base_name).lexically_normal(), chain, where);
  chain.pop_back();

  // Plugin paths accumulate down the chain (the base's first); everything else: this file wins.
  std::vector<Node> paths;
  if (const Node* p = merged.find("plugins"))
    if (const Node* list = p->find("paths")) paths = list->items;
  if (const Node* p = doc.find("plugins"))
    if (const Node* list = p->find("paths"))
      for (const auto& item : list->items) paths.push_back(item);
  const std::string top_where = doc.where;
  config::deep_merge(merged, doc);
  merged.where = merged.key_where = top_where;
  if (!paths.empty()) merged.fields["plugins"].fields["paths"].items = paths;
  return merged;
}

void load_experiment_plugins(const Node& doc, PluginLoader& loader, std::vector<std::string>& absolute) {
  const Node* plugins = doc.find("plugins");
  const Node* paths = plugins ? plugins->find("paths") : nullptr;
  if (!paths) return;
  for (const auto& p : paths->items) {
    const fs::path path = p.scalar.as_string();
    absolute.push_back(path.string());
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<std::string> problems;
      loader.load_directory(path, problems);
      if (!problems.empty()) throw ConfigError("[plugins] paths: " + problems.front(), p.where);
      continue;
    }
    try {
      loader.load_library(path);
    } catch (const PluginLoadError& e) {
      throw ConfigError(std::string("[plugins] paths: ") + e.what(), p.where);
    }
  }
}

std::vector<int64_t> seeds_of(const Node& run, const ExperimentOptions& options) {
  std::vector<int64_t> seeds;
  std::string where = "--seeds";
  if (options.seeds) {
    seeds = *options.seeds;
  } else if (const Node* e = run.find("experiment"); e && e->find("seeds")) {
    const Node& list = *e->find("seeds");
    where = list.where;
    if (!list.is_array()) throw ConfigError("[experiment] seeds must be an array of integers, e.g. [42, 43]", where);
    for (const auto& s : list.items) {
      if (!s.is_scalar() || s.scalar.type() != Value::Type::Int)
        throw ConfigError("[experiment] seeds must be integers, got " + s.type_name(), s.where);
      if (s.scalar.as_int() < 0) throw ConfigError("[experiment] seeds must not be negative", s.where);
      seeds.push_back(s.scalar.as_int());
    }
  } else {
    seeds = {0};
  }
  if (seeds.empty()) throw ConfigError("no seeds: give at least one", where);
  std::set<int64_t> seen;
  for (auto s : seeds)
    if (!seen.insert(s).second) throw ConfigError("seed " + std::to_string(s) + " is listed twice", where);
  return seeds;
}

// Everything of one variant that does not depend on the seed.
struct Resolved {
  RunSpec spec;
  Value::Table experiment;
};

Resolved resolve_run(const Node& run, const std::string& variant, const fs::path& file, const std::string& file_where,
                     const ExperimentOptions& options) {
  Resolved r;
  RunSpec& spec = r.spec;
  spec.source = file;
  spec.variant = variant;
  Value::Table& config = spec.config;

  spec.experiment = file.stem().string();
  if (const Node* e = run.find("experiment")) {
    if (!e->is_table()) throw ConfigError("[experiment] must be a table", e->where);
    std::vector<std::string> keys = kExperimentKeys;
    keys.erase(std::find(keys.begin(), keys.end(), "extends"));  // only meaningful inside a file
    check_keys(*e, keys, "[experiment] key");
    if (const Node* n = e->find("name")) spec.experiment = require_string(*n, "[experiment] name");
    if (const Node* n = e->find("description")) spec.description = require_string(*n, "[experiment] description");
    if (const Node* n = e->find("tags")) spec.tags = require_strings(*n, "[experiment] tags");
    if (const Node* n = e->find("output")) spec.output = require_string(*n, "[experiment] output");
  }
  if (spec.experiment.empty()) throw ConfigError("[experiment] name must not be empty", file_where);
  r.experiment["name"] = Value(spec.experiment);
  r.experiment["variant"] = Value(variant);
  if (!spec.description.empty()) r.experiment["description"] = Value(spec.description);
  if (!spec.tags.empty()) {
    Value::List tags;
    for (const auto& t : spec.tags) tags.emplace_back(t);
    r.experiment["tags"] = Value(std::move(tags));
  }
  if (!spec.output.empty()) r.experiment["output"] = Value(spec.output);

  auto& registry = PluginRegistry::instance();
  for (const auto& [key, kind] : kComponents) {
    const Node* n = run.find(key);
    Params* target = key == "data" ? &spec.data : key == "model" ? &spec.model : key == "loss" ? &spec.loss : &spec.sampler;
    if (!n && key == "sampler") {
      // The sampler is optional: "random" with its defaults. When no plugin provides it the
      // engine's own fallback applies, so it is not an error here.
      Node def;
      def.where = def.key_where = file_where;
      def.fields["plugin"].kind = Node::Kind::Scalar;
      def.fields["plugin"].scalar = Value("random");
      def.fields["plugin"].where = file_where;
      *target = registry.find("sampler", "random") ? config::validate_plugin(def, "sampler", "sampler")
                                                   : Params("random", {}, file_where);
    } else if (!n) {
      if (options.partial) continue;
      throw ConfigError("the experiment has no [" + key + "] table; every run needs data, model and loss (add [" +
                            key + "] plugin = \"<name>\"; xp plugins list --kind " + kind + ")",
                        file_where);
    } else {
      *target = config::validate_plugin(*n, kind, key);
    }
    Value::Table t = target->values();
    t["plugin"] = Value(target->plugin());
    config[key] = Value(std::move(t));
  }
  for (const auto& [key, kind] : kComponentLists) {
    std::vector<Params>& target = key == "augment"        ? spec.augment
                                  : key == "eval_augment" ? spec.eval_augment
                                  : key == "batch_augment" ? spec.batch_augment
                                                           : spec.metrics;
    Value::List list;
    if (const Node* n = run.find(key)) {
      if (!n->is_array())
        throw ConfigError("[" + key + "] must be an array of tables: write [[" + key + "]] (one per " + kind + ")",
                          n->where);
      for (size_t i = 0; i < n->items.size(); ++i) {
        target.push_back(config::validate_plugin(n->items[i], kind, key + "[" + std::to_string(i) + "]"));
        Value::Table t = target.back().values();
        t["plugin"] = Value(target.back().plugin());
        list.emplace_back(std::move(t));
      }
    }
    config[key] = Value(std::move(list));
  }
  Node empty_train;
  empty_train.where = empty_train.key_where = file_where;
  const Node* train = run.find("train");
  if (!train) train = &empty_train;
  spec.train = Params("train", config::validate_params(*train, engine::train_schema(), "[train]", {}, "train"), train->where);
  // A partial file (meant to be extended) may leave the metrics to the files that extend it.
  if (!options.partial || !spec.metrics.empty()) config::check_monitors(spec.train, spec.metrics, *train, file_where);
  config["train"] = Value(spec.train.values());
  return r;
}


// The run of `r` with `seed`: the seed joins [experiment], then the canonical text and its hash.
RunSpec with_seed(const Resolved& r, int64_t seed) {
  RunSpec spec = r.spec;
  spec.seed = seed;
  Value::Table experiment = r.experiment;
  experiment["seed"] = Value(seed);
  spec.config["experiment"] = Value(std::move(experiment));
  spec.config = config::strip_where(Value(spec.config)).as_table();
  spec.canonical = config::canonical_toml(spec.config);
  spec.hash = sha256_hex(spec.canonical);
  spec.flat = config::flatten(spec.config);
  return spec;
}

}  // namespace

std::vector<RunSpec> resolve_experiment(const fs::path& file, const ExperimentOptions& options,
                                        PluginLoader& loader) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec))
    throw ConfigError("cannot open experiment file '" + file.string() + "': " +
                      (fs::exists(file, ec) ? "not a regular file" : "no such file"));
  std::vector<fs::path> chain;
  Node doc = load_with_extends(file, chain, "");
  const std::string file_where = config::format_where(file.string(), 1, 1);

  std::vector<config::Override> overrides;
  for (const auto& s : options.sets) {
    overrides.push_back(config::parse_override(s));
    const std::string& top = overrides.back().path.front();
    if (top == "plugins" || top == "variants")
      throw ConfigError("--set cannot change [" + top + "]" +
                            (top == "plugins" ? " (plugins are loaded first; use --plugin-path)" : " (use --variant)"),
                        "--set " + s);
  }

  std::vector<std::string> plugin_paths;
  load_experiment_plugins(doc, loader, plugin_paths);

  // The variants to run: each one's table deep-merged over the base. Without [variants] the base
  // itself is the one run, named "".
  Node base = doc;
  base.fields.erase("variants");
  base.fields.erase("plugins");
  std::vector<std::pair<std::string, const Node*>> runs;
  const Node* variants = doc.find("variants");
  std::vector<std::string> names;
  if (variants)
    for (const auto& [name, v] : variants->fields) names.push_back(name);
  if (!options.variants.empty()) {
    std::set<std::string> seen;
    for (const auto& want : options.variants) {
      if (!seen.insert(want).second) continue;
      if (names.empty())
        throw ConfigError("--variant " + want + ": the experiment defines no [variants]", file_where);
      if (!variants->find(want))
        throw ConfigError("unknown variant '" + want + "'" + did_you_mean(want, names) + " (variants: " +
                              [&] {
                                std::string all;
                                for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
                                return all;
                              }() + ")",
                          "--variant " + want);
      runs.emplace_back(want, variants->find(want));
    }
  } else if (!names.empty()) {
    for (const auto& n : names) runs.emplace_back(n, variants->find(n));
  } else {
    runs.emplace_back("", nullptr);
  }

  std::vector<RunSpec> out;
  for (const auto& [name, variant] : runs) {
    Node run = base;
    if (variant) config::deep_merge(run, *variant);
    config::apply_overrides(run, overrides);
    check_keys(run, kTopLevel, "top-level table");  // --set may have added one
    const std::vector<int64_t> seeds = seeds_of(run, options);
    Resolved r = resolve_run(run, name, file, file_where, options);
    r.spec.plugin_paths = plugin_paths;
    for (int64_t seed : seeds) out.push_back(with_seed(r, seed));
  }
  return out;
}

RunSpec resolve_recorded_run(const fs::path& config_file, PluginLoader& loader) {
  std::error_code ec;
  if (!fs::is_regular_file(config_file, ec))
    throw ConfigError("cannot open the run's resolved config '" + config_file.string() + "'");
  (void)loader;  // the recorded config names no [plugins]: they are loaded already or via --plugin-path
  Node run = config::parse_toml_file(config_file.string());
  const std::string file_where = config::format_where(config_file.string(), 1, 1);
  Node* e = run.find("experiment");
  const Node* seed = e ? e->find("seed") : nullptr;
  const Node* variant = e ? e->find("variant") : nullptr;
  if (!seed || !seed->is_scalar() || seed->scalar.type() != Value::Type::Int || !variant || !variant->is_scalar() ||
      variant->scalar.type() != Value::Type::String)
    throw ConfigError("'" + config_file.string() +
                          "' is not a run's resolved config (it needs [experiment] seed and variant, as xp writes them)",
                      file_where);
  const int64_t seed_value = seed->scalar.as_int();
  const std::string variant_name = variant->scalar.as_string();
  e->fields.erase("seed");
  e->fields.erase("variant");
  check_keys(run, kTopLevel, "top-level table");
  Resolved r = resolve_run(run, variant_name, config_file, file_where, ExperimentOptions{});
  return with_seed(r, seed_value);
}

}  // namespace xp
