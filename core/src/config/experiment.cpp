#include "config/experiment.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "xp/base/toml_writer.h"
#include "xp/base/config_errors.h"
#include "xp/base/config_node.h"
#include "config/declared_variants.h"
#include "config/monitor_check.h"
#include "config/overrides.h"
#include "config/param_validator.h"
#include "config/task_check.h"
#include "engine/train_schema.h"
#include "plugin_loader.h"
#include "xp/base/suggest.h"
#include "xp/base/sha256.h"
#include "xp/errors.h"

namespace fs = std::filesystem;

namespace xp {

namespace {

using config::ErrorCollector;
using config::Node;

const std::vector<std::string> kTopLevel = {"experiment", "data",    "model",         "loss",
                                            "sampler",    "augment", "eval_augment",  "batch_augment",
                                            "metrics",    "train",   "plugins",       "variants"};
const std::vector<std::string> kExperimentKeys = {"name",   "description", "tags",    "output",
                                                   "seeds",  "extends",     "baseline", "metric"};

// The single-plugin tables and the lists of plugin tables, with the plugin kind each holds.
const std::vector<std::pair<std::string, std::string>> kComponents = {
    {"data", "dataset"}, {"model", "model"}, {"loss", "loss"}, {"sampler", "sampler"}};
const std::vector<std::pair<std::string, std::string>> kComponentLists = {{"augment", "augmentation"},
                                                                          {"eval_augment", "augmentation"},
                                                                          {"batch_augment", "batch_augmentation"},
                                                                          {"metrics", "metric"}};

void check_keys(const Node& table, const std::vector<std::string>& allowed, const std::string& what,
                ErrorCollector& errors) {
  for (const auto& [key, node] : table.fields)
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      errors.add(ConfigError("unknown " + what + " '" + key + "'" + did_you_mean(key, allowed), node.key_where));
}

void check_keys(const Node& table, const std::vector<std::string>& allowed, const std::string& what) {
  ErrorCollector errors;
  check_keys(table, allowed, what, errors);
  errors.throw_if_any();
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
void check_structure(const Node& doc, ErrorCollector& errors) {
  check_keys(doc, kTopLevel, "top-level table", errors);
  if (const Node* e = doc.find("experiment")) {
    if (!e->is_table()) throw ConfigError("[experiment] must be a table, got " + e->type_name(), e->where);
    check_keys(*e, kExperimentKeys, "[experiment] key", errors);
  }
  if (const Node* p = doc.find("plugins")) {
    if (!p->is_table()) throw ConfigError("[plugins] must be a table, got " + p->type_name(), p->where);
    check_keys(*p, {"paths"}, "[plugins] key", errors);
  }
  if (const Node* v = doc.find("variants")) {
    if (!v->is_table()) throw ConfigError("[variants] must be a table of variants, got " + v->type_name(), v->where);
    std::vector<std::string> allowed;
    for (const auto& k : kTopLevel)
      if (k != "experiment" && k != "variants" && k != "plugins") allowed.push_back(k);
    for (const auto& [name, variant] : v->fields) {
      if (!variant.is_table()) {
        errors.add(ConfigError("variant '" + name + "' must be a table ([variants." + name + "]), got " +
                                   variant.type_name(),
                               variant.where));
        continue;
      }
      for (const auto& [key, node] : variant.fields)
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
          std::string why = (key == "experiment" || key == "variants" || key == "plugins")
                                ? " (a variant may change data, model, loss, sampler, augmentations, metrics and train)"
                                : did_you_mean(key, allowed);
          errors.add(ConfigError("variant '" + name + "' cannot set '" + key + "'" + why, node.key_where));
        }
    }
  }
}

// Loads `file` and, recursively, what it extends. `chain` holds the files being loaded, to
// report a cycle instead of recursing forever.
Node load_with_extends(const fs::path& file, std::vector<fs::path>& chain, const std::string& extends_where,
                       ErrorCollector& errors) {
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
  check_structure(doc, errors);

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
  Node merged = load_with_extends((file.parent_path() / base_name).lexically_normal(), chain, where, errors);
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

  ErrorCollector errors;
  spec.experiment = file.stem().string();
  if (const Node* e = run.find("experiment")) {
    if (!e->is_table()) throw ConfigError("[experiment] must be a table", e->where);
    std::vector<std::string> keys = kExperimentKeys;
    keys.erase(std::find(keys.begin(), keys.end(), "extends"));  // only meaningful inside a file
    check_keys(*e, keys, "[experiment] key", errors);
    errors.attempt([&] {
      if (const Node* n = e->find("name")) spec.experiment = require_string(*n, "[experiment] name");
    });
    errors.attempt([&] {
      if (const Node* n = e->find("description")) spec.description = require_string(*n, "[experiment] description");
    });
    errors.attempt([&] {
      if (const Node* n = e->find("tags")) spec.tags = require_strings(*n, "[experiment] tags");
    });
    errors.attempt([&] {
      if (const Node* n = e->find("output")) spec.output = require_string(*n, "[experiment] output");
    });
    errors.attempt([&] {
      if (const Node* n = e->find("baseline")) spec.baseline = require_string(*n, "[experiment] baseline");
    });
    errors.attempt([&] {
      if (const Node* n = e->find("metric")) spec.report_metric = require_string(*n, "[experiment] metric");
    });
  }
  if (spec.experiment.empty()) errors.add(ConfigError("[experiment] name must not be empty", file_where));
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
      errors.add(ConfigError("the experiment has no [" + key + "] table; every run needs data, model and loss (add [" +
                                 key + "] plugin = \"<name>\"; xp plugins list --kind " + kind + ")",
                             file_where));
      continue;
    } else if (!errors.attempt([&] { *target = config::validate_plugin(*n, kind, key); })) {
      continue;
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
      if (!n->is_array()) {
        errors.add(ConfigError(
            "[" + key + "] must be an array of tables: write [[" + key + "]] (one per " + kind + ")", n->where));
        continue;
      }
      for (size_t i = 0; i < n->items.size(); ++i)
        errors.attempt([&] {
          target.push_back(config::validate_plugin(n->items[i], kind, key + "[" + std::to_string(i) + "]"));
          Value::Table t = target.back().values();
          t["plugin"] = Value(target.back().plugin());
          list.emplace_back(std::move(t));
        });
    }
    config[key] = Value(std::move(list));
  }
  // Every plugin for the dataset's task, as the schemas declare it (before anything is built).
  for (const auto& e : config::task_errors(spec)) errors.add(e);
  Node empty_train;
  empty_train.where = empty_train.key_where = file_where;
  const Node* train = run.find("train");
  if (!train) train = &empty_train;
  errors.attempt([&] {
    spec.train =
        Params("train", config::validate_params(*train, engine::train_schema(), "[train]", {}, "train"), train->where);
    config["train"] = Value(spec.train.values());
    // A partial file (meant to be extended) may leave the metrics to the files that extend it.
    if (!options.partial || !spec.metrics.empty()) config::check_monitors(spec.train, spec.metrics, *train, file_where);
  });
  errors.throw_if_any();
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

namespace {

// "file:line:col" -> (file, line, col), to order variants as they are written in the file (the
// parsed tree keeps tables in a sorted map). A position without numbers sorts last.
std::tuple<std::string, long, long> position_of(const std::string& where) {
  const size_t c2 = where.rfind(':');
  const size_t c1 = c2 == std::string::npos || c2 == 0 ? std::string::npos : where.rfind(':', c2 - 1);
  if (c1 == std::string::npos) return {where, 0, 0};
  try {
    return {where.substr(0, c1), std::stol(where.substr(c1 + 1, c2 - c1 - 1)), std::stol(where.substr(c2 + 1))};
  } catch (const std::exception&) {
    return {where, 0, 0};
  }
}

std::string kind_of_component(const std::string& key) {
  for (const auto& [k, kind] : kComponents)
    if (k == key) return kind;
  for (const auto& [k, kind] : kComponentLists)
    if (k == key) return kind;
  return "";
}

// Why the bare override `o` means nothing to this run: its target is a plugin table whose plugin
// has no such parameter ("loss 'tversky' has no parameter 'gamma'"). "" when it applies (or when
// it is wrong in a way validation reports anyway).
std::string why_not_applicable(const Node& run, const config::Override& o) {
  if (o.path.size() < 2 || o.path.back() == "plugin") return "";
  const std::string kind = kind_of_component(o.path.front());
  if (kind.empty()) return "";
  const Node* cur = &run;
  for (size_t i = 0; i + 1 < o.path.size(); ++i) {
    const std::string& key = o.path[i];
    if (cur->is_array()) {
      if (key.empty() || key.find_first_not_of("0123456789") != std::string::npos || key.size() > 9) return "";
      const size_t index = std::stoul(key);
      if (index >= cur->items.size()) return "";
      cur = &cur->items[index];
    } else if (cur->is_table()) {
      cur = cur->find(key);
      if (!cur) return "";
    } else {
      return "";
    }
  }
  if (!cur->is_table()) return "";
  const std::string plugin = cur->plugin_name();
  if (plugin.empty()) return "";
  const PluginEntry* entry = PluginRegistry::instance().find(kind, plugin);
  if (!entry || entry->schema.find(o.path.back())) return "";
  return kind + " '" + plugin + "' has no parameter '" + o.path.back() + "'";
}

std::string message_of(const ConfigError& e) {
  const std::string what = e.what();
  if (e.where().empty() || what.compare(0, e.where().size() + 2, e.where() + ": ") != 0) return what;
  return what.substr(e.where().size() + 2);
}

std::string joined(const std::vector<std::string>& names) {
  std::string all;
  for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
  return all;
}

// The [variants] tables of a loaded experiment, in the order the file(s) write them.
std::vector<std::string> variants_in_order(const Node& doc) {
  const Node* variants = doc.find("variants");
  std::vector<std::string> names;
  if (variants && variants->is_table()) {
    for (const auto& [name, v] : variants->fields)
      if (v.is_table()) names.push_back(name);
    std::stable_sort(names.begin(), names.end(), [&](const std::string& a, const std::string& b) {
      return position_of(variants->find(a)->key_where) < position_of(variants->find(b)->key_where);
    });
  }
  return names;
}

}  // namespace

std::vector<std::string> config::declared_variants(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return {};
  ErrorCollector errors;
  std::vector<fs::path> chain;
  Node doc = load_with_extends(file, chain, "", errors);
  return variants_in_order(doc);
}

std::vector<RunSpec> resolve_experiment(const fs::path& file, const ExperimentOptions& options,
                                        PluginLoader& loader) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec))
    throw ConfigError("cannot open experiment file '" + file.string() + "': " +
                      (fs::exists(file, ec) ? "not a regular file" : "no such file"));
  ErrorCollector errors;
  std::vector<fs::path> chain;
  Node doc = load_with_extends(file, chain, "", errors);
  const std::string file_where = config::format_where(file.string(), 1, 1);

  std::vector<std::string> plugin_paths;
  load_experiment_plugins(doc, loader, plugin_paths);

  // The variants, in the order the file(s) write them.
  const Node* variants = doc.find("variants");
  const std::vector<std::string> names = variants_in_order(doc);

  // [experiment] baseline names a variant (the one `xp report` compares the others against).
  if (const Node* e = doc.find("experiment"); e && e->is_table())
    if (const Node* b = e->find("baseline"); b && b->is_scalar() && b->scalar.type() == Value::Type::String) {
      const std::string& want = b->scalar.as_string();
      if (names.empty())
        errors.add(ConfigError("[experiment] baseline = '" + want + "', but the experiment defines no [variants]",
                               b->where));
      else if (std::find(names.begin(), names.end(), want) == names.end())
        errors.add(ConfigError("[experiment] baseline: unknown variant '" + want + "'" + did_you_mean(want, names) +
                                   " (variants: " + joined(names) + ")",
                               b->where));
    }

  // --set: bare ones apply to every variant (that has the parameter, see below);
  // "variants.NAME.KEY=VALUE" to that variant only, after the bare ones.
  std::vector<config::Override> common;
  std::map<std::string, std::vector<config::Override>> per_variant;
  for (const auto& text : options.sets) {
    if (!errors.attempt([&] {
          config::Override o = config::parse_override(text);
          const std::string top = o.path.front();
          // The top-level key is checked here, once per --set, not in each run it merges into.
          auto check_top = [&](const std::string& key) {
            if (key == "plugins")
              throw ConfigError("--set cannot change [plugins] (plugins are loaded first; use --plugin-path)",
                                "--set " + text);
            if (std::find(kTopLevel.begin(), kTopLevel.end(), key) == kTopLevel.end())
              throw ConfigError("unknown top-level table '" + key + "'" + did_you_mean(key, kTopLevel),
                                "--set " + text);
          };
          if (top != "variants") {
            check_top(top);
            common.push_back(std::move(o));
            return;
          }
          if (o.path.size() < 3)
            throw ConfigError("--set variants.NAME.KEY=VALUE sets KEY in one variant, e.g. variants." +
                                  (names.empty() ? std::string("focal") : names.front()) + ".loss.gamma=3",
                              "--set " + text);
          const std::string variant = o.path[1];
          if (std::find(names.begin(), names.end(), variant) == names.end())
            throw ConfigError("--set: unknown variant '" + variant + "'" + did_you_mean(variant, names) +
                                  (names.empty() ? " (the experiment defines no [variants])"
                                                 : " (variants: " + joined(names) + ")"),
                              "--set " + text);
          o.path.erase(o.path.begin(), o.path.begin() + 2);
          check_top(o.path.front());
          per_variant[variant].push_back(std::move(o));
        }))
      continue;
  }

  // The variants to run: each one's table deep-merged over the base. Without [variants] the base
  // itself is the one run, named "".
  Node base = doc;
  base.fields.erase("variants");
  base.fields.erase("plugins");
  std::vector<std::pair<std::string, const Node*>> runs;
  if (!options.variants.empty()) {
    std::set<std::string> seen;
    for (const auto& want : options.variants) {
      if (!seen.insert(want).second) continue;
      if (names.empty())
        throw ConfigError("--variant " + want + ": the experiment defines no [variants]", file_where);
      if (std::find(names.begin(), names.end(), want) == names.end()) {
        errors.add(ConfigError(
            "unknown variant '" + want + "'" + did_you_mean(want, names) + " (variants: " + joined(names) + ")",
            "--variant " + want));
        continue;
      }
      runs.emplace_back(want, variants->find(want));
    }
  } else if (!names.empty()) {
    for (const auto& n : names) runs.emplace_back(n, variants->find(n));
  } else {
    runs.emplace_back("", nullptr);
  }

  // Each run merged; a bare --set that names a parameter the run's plugin lacks is skipped for
  // that run when another run takes it (--set loss.gamma=3 over focal and tversky variants).
  std::vector<Node> merged;
  for (const auto& [name, variant] : runs) {
    merged.push_back(base);
    if (variant) config::deep_merge(merged.back(), *variant);
  }
  std::vector<std::vector<const config::Override*>> applied(runs.size());
  for (const auto& o : common) {
    std::vector<std::string> reasons;
    size_t applicable = 0;
    for (const auto& run : merged) {
      reasons.push_back(why_not_applicable(run, o));
      if (reasons.back().empty()) ++applicable;
    }
    for (size_t i = 0; i < runs.size(); ++i) {
      if (!reasons[i].empty() && applicable > 0) {
        if (options.notes)
          options.notes->push_back("--set " + o.text + " skipped for variant " + runs[i].first + " (" + reasons[i] +
                                   ")");
        continue;
      }
      applied[i].push_back(&o);
    }
  }

  // Resolve every run, keeping each one's errors; an error shared by some runs only names them.
  std::vector<std::pair<ConfigError, std::vector<std::string>>> found;
  std::vector<RunSpec> out;
  for (size_t i = 0; i < runs.size(); ++i) {
    const std::string& name = runs[i].first;
    ErrorCollector mine(1000);
    mine.attempt([&] {
      Node& run = merged[i];
      std::vector<config::Override> overrides;
      for (const auto* o : applied[i]) overrides.push_back(*o);
      config::apply_overrides(run, overrides);
      if (auto it = per_variant.find(name); it != per_variant.end()) config::apply_overrides(run, it->second);
      // No top-level check here: each file's keys (variants included) were checked where they are
      // written (check_structure) and each --set's above; checking the merged run again reported a
      // misspelt key of a variant a second time, as an unknown top-level table.
      const std::vector<int64_t> seeds = seeds_of(run, options);
      Resolved r = resolve_run(run, name, file, file_where, options);
      r.spec.plugin_paths = plugin_paths;
      for (int64_t seed : seeds) out.push_back(with_seed(r, seed));
    });
    for (const auto& e : mine.errors()) {
      auto it = std::find_if(found.begin(), found.end(),
                             [&](const auto& f) { return std::string(f.first.what()) == e.what(); });
      if (it == found.end()) it = found.insert(found.end(), {e, {}});
      it->second.push_back(name);
    }
  }
  for (const auto& [e, in] : found) {
    const bool from_set = e.where().rfind("--set ", 0) == 0;
    if (runs.size() < 2 || (in.size() == runs.size() && !from_set)) {
      errors.add(e);
      continue;
    }
    std::string note = " (variant" + std::string(in.size() > 1 ? "s " : " ") + joined(in);
    if (from_set)
      note += "; --set variants." + in.front() + ".KEY=VALUE sets a value in one variant, --variant " + in.front() +
              " runs only that one";
    errors.add(ConfigError(message_of(e) + note + ")", e.where()));
  }
  errors.throw_if_any();
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
