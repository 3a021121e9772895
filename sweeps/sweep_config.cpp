#include "sweep_config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

#include "xp/base/suggest.h"
#include "xp/base/toml_value.h"
#include "xp/errors.h"

namespace xp::sweeps {

namespace fs = std::filesystem;

namespace {

std::string where(const toml::source_region& r) {
  std::string file = r.path ? *r.path : std::string("<sweep>");
  return file + ":" + std::to_string(r.begin.line) + ":" + std::to_string(r.begin.column);
}

[[noreturn]] void fail(const toml::node& n, const std::string& message) { throw ConfigError(message, where(n.source())); }

// Rejects keys outside `allowed`, naming the closest one.
void check_keys(const toml::table& t, const std::vector<std::string>& allowed, const std::string& table_name) {
  for (const auto& [k, v] : t) {
    std::string key(k.str());
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      throw ConfigError("unknown key '" + key + "' in [" + table_name + "]" + did_you_mean(key, allowed),
                        where(k.source()));
  }
}

std::string get_string(const toml::table& t, const char* key, const std::string& fallback) {
  const toml::node* n = t.get(key);
  if (!n) return fallback;
  if (!n->is_string()) fail(*n, std::string("'") + key + "' must be a string");
  return n->as_string()->get();
}

double get_number(const toml::node& n, const std::string& what) {
  if (auto i = n.as_integer()) return static_cast<double>(i->get());
  if (auto f = n.as_floating_point()) return f->get();
  fail(n, what + " must be a number");
}

std::optional<int64_t> get_int(const toml::table& t, const char* key, int64_t min) {
  const toml::node* n = t.get(key);
  if (!n) return std::nullopt;
  if (!n->is_integer()) fail(*n, std::string("'") + key + "' must be an integer");
  int64_t v = n->as_integer()->get();
  if (v < min) fail(*n, std::string("'") + key + "' must be at least " + std::to_string(min));
  return v;
}

std::optional<double> get_positive(const toml::table& t, const char* key) {
  const toml::node* n = t.get(key);
  if (!n) return std::nullopt;
  double v = get_number(*n, std::string("'") + key + "'");
  if (!(v > 0)) fail(*n, std::string("'") + key + "' must be positive");
  return v;
}

const toml::table* get_table(const toml::table& t, const char* key) {
  const toml::node* n = t.get(key);
  if (!n) return nullptr;
  if (!n->is_table()) fail(*n, std::string("'") + key + "' must be a table");
  return n->as_table();
}

const std::vector<std::string> kTypes = {"choice", "uniform", "loguniform", "int", "int_log"};

Dimension parse_dimension(const std::string& key, const toml::table& t) {
  Dimension d;
  d.key = key;
  d.where = where(t.source());
  const toml::node* type = t.get("type");
  if (!type) fail(t, "'" + key + "' needs a type (" + "choice, uniform, loguniform, int or int_log)");
  if (!type->is_string()) fail(*type, "'type' must be a string");
  std::string name = type->as_string()->get();
  if (name == "choice") d.type = DimensionType::Choice;
  else if (name == "uniform") d.type = DimensionType::Uniform;
  else if (name == "loguniform") d.type = DimensionType::LogUniform;
  else if (name == "int") d.type = DimensionType::Int;
  else if (name == "int_log") d.type = DimensionType::IntLog;
  else fail(*type, "unknown search type '" + name + "' for '" + key + "'" + did_you_mean(name, kTypes));

  if (d.type == DimensionType::Choice) {
    check_keys(t, {"type", "values"}, "space." + key);
    const toml::node* values = t.get("values");
    if (!values || !values->is_array() || values->as_array()->empty())
      fail(values ? *values : static_cast<const toml::node&>(t), "choice '" + key + "' needs a non-empty array 'values'");
    for (const auto& v : *values->as_array()) {
      Value value = value_from_toml(v);
      if (std::find(d.values.begin(), d.values.end(), value) != d.values.end())
        fail(v, "choice '" + key + "' lists " + value.to_string() + " twice");
      d.values.push_back(std::move(value));
    }
    return d;
  }

  check_keys(t, {"type", "low", "high", "step", "grid_points"}, "space." + key);
  const toml::node* low = t.get("low");
  const toml::node* high = t.get("high");
  if (!low || !high) fail(t, "'" + key + "' (" + name + ") needs 'low' and 'high'");
  if (d.is_int() && (!low->is_integer() || !high->is_integer()))
    fail(low->is_integer() ? *high : *low, "'" + key + "' is an integer range: low and high must be integers");
  d.low = get_number(*low, "'low'");
  d.high = get_number(*high, "'high'");
  if (!(d.low < d.high)) fail(*high, "'" + key + "': high must be greater than low");
  if (d.is_log() && !(d.low > 0)) fail(*low, "'" + key + "' is on a log scale: low must be positive");
  if (auto step = get_int(t, "step", 1)) {
    if (d.type != DimensionType::Int) fail(*t.get("step"), "'step' applies to type \"int\" only");
    d.step = *step;
    if ((static_cast<int64_t>(d.high) - static_cast<int64_t>(d.low)) % d.step != 0)
      fail(*t.get("step"), "'" + key + "': high - low must be a multiple of step");
  }
  if (auto points = get_int(t, "grid_points", 1)) d.grid_points = *points;
  return d;
}

// [space] accepts quoted dotted keys ("loss.gamma" = {...}) and nested tables (loss.gamma = {...}).
void collect_dimensions(const toml::table& t, const std::string& prefix, std::vector<Dimension>& out) {
  for (const auto& [k, v] : t) {
    std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    const toml::table* sub = v.as_table();
    if (!sub) fail(v, "'" + key + "' in [space] must be a table like { type = \"uniform\", low = 0, high = 1 }");
    if (sub->contains("type") || sub->empty()) out.push_back(parse_dimension(key, *sub));
    else collect_dimensions(*sub, key, out);
  }
}

void collect_fixed(const toml::table& t, const std::string& prefix, std::map<std::string, Value>& out) {
  for (const auto& [k, v] : t) {
    std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    out[key] = value_from_toml(v);
  }
}

}  // namespace

SamplerOptions SweepConfig::sampler_options() const {
  SamplerOptions o;
  o.method = method;
  o.seed = sampler_seed;
  o.direction = direction;
  o.tpe = tpe;
  return o;
}

std::optional<int64_t> SweepConfig::max_trials() const {
  std::optional<int64_t> n = trials;
  if (method == "grid") {
    auto size = space.grid_size();
    auto capped = static_cast<int64_t>(std::min<uint64_t>(size, static_cast<uint64_t>(INT64_MAX)));
    n = n ? std::min(*n, capped) : capped;
  }
  return n;
}

SweepConfig parse_sweep_text(const std::string& text, const fs::path& source) {
  toml::table root;
  try {
    root = toml::parse(text, source.string());
  } catch (const toml::parse_error& e) {
    throw ConfigError(std::string(e.description()), where(e.source()));
  }
  SweepConfig c;
  c.file = fs::absolute(source);
  c.text = text;
  check_keys(root, {"sweep", "space"}, "top level");
  const toml::table* sweep = get_table(root, "sweep");
  if (!sweep) throw ConfigError("a sweep file needs a [sweep] table", source.string());
  check_keys(*sweep, {"experiment", "variant", "method", "metric", "mode", "trials", "max_minutes", "seeds",
                      "sampler_seed", "workers", "max_retries", "lease_seconds", "tpe", "early_stopping", "fixed"},
             "sweep");

  std::string experiment = get_string(*sweep, "experiment", "");
  if (experiment.empty()) fail(*sweep, "[sweep] needs 'experiment', the experiment file to tune");
  c.experiment = fs::path(experiment).is_absolute() ? fs::path(experiment)
                                                    : (c.file.parent_path() / experiment).lexically_normal();
  c.variant = get_string(*sweep, "variant", "");
  c.method = get_string(*sweep, "method", "tpe");
  if (std::find(sampler_methods().begin(), sampler_methods().end(), c.method) == sampler_methods().end())
    fail(*sweep->get("method"), "unknown method '" + c.method + "'" + did_you_mean(c.method, sampler_methods()) +
                                    " (grid, random or tpe)");
  c.metric = get_string(*sweep, "metric", "");
  if (c.metric.empty()) fail(*sweep, "[sweep] needs 'metric', the run summary value to optimise (e.g. best_val_top1)");
  if (!sweep->get("mode")) fail(*sweep, "[sweep] needs 'mode' = \"min\" or \"max\" for metric '" + c.metric + "'");
  try {
    c.direction = parse_direction(get_string(*sweep, "mode", ""));
  } catch (const ConfigError& e) {
    fail(*sweep->get("mode"), e.what());
  }
  c.trials = get_int(*sweep, "trials", 1);
  c.max_minutes = get_positive(*sweep, "max_minutes");
  if (!c.trials && !c.max_minutes && c.method != "grid")
    fail(*sweep, "[sweep] needs a budget: 'trials', 'max_minutes' or both");
  if (const toml::node* seeds = sweep->get("seeds")) {
    if (!seeds->is_array() || seeds->as_array()->empty()) fail(*seeds, "'seeds' must be a non-empty array of integers");
    for (const auto& s : *seeds->as_array()) {
      if (!s.is_integer()) fail(s, "'seeds' must hold integers");
      c.seeds.push_back(s.as_integer()->get());
    }
  }
  if (auto s = get_int(*sweep, "sampler_seed", 0)) c.sampler_seed = static_cast<uint64_t>(*s);
  if (auto w = get_int(*sweep, "workers", 1)) c.workers = *w;
  if (auto r = get_int(*sweep, "max_retries", 0)) c.max_retries = *r;
  if (auto l = get_positive(*sweep, "lease_seconds")) c.lease_seconds = *l;

  if (const toml::table* tpe = get_table(*sweep, "tpe")) {
    check_keys(*tpe, {"n_startup_trials", "n_ei_candidates", "prior_weight", "consider_pruned"}, "sweep.tpe");
    if (auto v = get_int(*tpe, "n_startup_trials", 0)) c.tpe.n_startup_trials = *v;
    if (auto v = get_int(*tpe, "n_ei_candidates", 1)) c.tpe.n_ei_candidates = *v;
    if (auto v = get_positive(*tpe, "prior_weight")) c.tpe.prior_weight = *v;
    if (const toml::node* n = tpe->get("consider_pruned")) {
      if (!n->is_boolean()) fail(*n, "'consider_pruned' must be true or false");
      c.tpe.consider_pruned = n->as_boolean()->get();
    }
  }

  c.pruner.metric = c.metric;
  c.pruner.direction = c.direction;
  if (const toml::table* es = get_table(*sweep, "early_stopping")) {
    check_keys(*es, {"method", "metric", "mode", "min_epochs", "reduction_factor", "n_startup_trials"},
               "sweep.early_stopping");
    c.pruner.method = get_string(*es, "method", "asha");
    if (std::find(pruner_methods().begin(), pruner_methods().end(), c.pruner.method) == pruner_methods().end())
      fail(*es->get("method"), "unknown early_stopping method '" + c.pruner.method + "'" +
                                   did_you_mean(c.pruner.method, pruner_methods()) + " (asha, median or none)");
    c.pruner.metric = get_string(*es, "metric", c.metric);
    if (const toml::node* mode = es->get("mode")) {
      try {
        c.pruner.direction = parse_direction(get_string(*es, "mode", ""));
      } catch (const ConfigError& e) {
        fail(*mode, e.what());
      }
    }
    if (auto v = get_int(*es, "min_epochs", 0)) c.pruner.min_epochs = *v;
    if (auto v = get_int(*es, "reduction_factor", 2)) c.pruner.reduction_factor = *v;
    if (auto v = get_int(*es, "n_startup_trials", 0)) c.pruner.n_startup_trials = *v;
    if (c.pruner.method == "asha" && c.pruner.min_epochs < 1) fail(*es, "asha needs min_epochs >= 1");
  }
  if (const toml::table* fixed = get_table(*sweep, "fixed")) collect_fixed(*fixed, "", c.fixed);

  const toml::table* space = get_table(root, "space");
  if (!space || space->empty()) throw ConfigError("a sweep file needs a non-empty [space]", source.string());
  std::vector<Dimension> dims;
  collect_dimensions(*space, "", dims);
  c.space = SearchSpace(std::move(dims));
  for (const auto& d : c.space.dimensions())
    if (c.fixed.count(d.key)) throw ConfigError("'" + d.key + "' is both in [sweep.fixed] and in [space]", d.where);
  if (c.method == "grid") c.space.grid_size();  // a float range without grid_points fails here, not mid-sweep
  return c;
}

SweepConfig parse_sweep_file(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw ConfigError("cannot read sweep file '" + file.string() + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_sweep_text(ss.str(), file);
}

}  // namespace xp::sweeps
