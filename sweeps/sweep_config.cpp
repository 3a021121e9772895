#include "sweep_config.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "xp/base/config_errors.h"
#include "xp/base/config_node.h"
#include "xp/base/param_validator.h"
#include "xp/base/suggest.h"
#include "xp/errors.h"
#include "xp/schema.h"

namespace xp::sweeps {

namespace fs = std::filesystem;
using config::ErrorCollector;
using config::Node;

namespace {

// The sweep file is checked by the same Schema machinery as an experiment's tables: unknown keys
// with did-you-mean, types, ranges, choices, every mistake reported at once with its place. The
// defaults come from the option structs so that the file and the code cannot disagree.
const Schema& sweep_schema() {
  static const Schema schema = [] {
    const TpeOptions tpe;
    const PrunerOptions pruner;
    const SweepConfig sweep;
    std::vector<Value> samplers, pruners;
    for (const auto& m : sampler_methods()) samplers.emplace_back(m);
    for (const auto& m : pruner_methods()) pruners.emplace_back(m);
    Schema tpe_section("TPE sampler");
    tpe_section.add_int("n_startup_trials", tpe.n_startup_trials, "random proposals before the model takes over")
        .min(0)
        .add_int("n_ei_candidates", tpe.n_ei_candidates, "draws from l(x) scored by l(x)/g(x)")
        .min(1)
        .add_float("prior_weight", tpe.prior_weight, "weight of the flat prior in every estimator")
        .min(0)
        .add_bool("consider_pruned", tpe.consider_pruned, "pruned trials count as bad observations");
    Schema early_stopping("Pruning of trials on their per-epoch metric");
    early_stopping.add_string("method", "asha", "asha, median or none").choices(pruners)
        .add_string("metric", "", "per-epoch metric to prune on (default: the sweep's metric)")
        .optional()
        .add_string("mode", "", "min or max (default: the sweep's mode)")
        .choices({Value("min"), Value("max")})
        .optional()
        .add_int("min_epochs", pruner.min_epochs, "asha: first rung; median: epochs before any pruning")
        .min(0)
        .add_int("reduction_factor", pruner.reduction_factor, "asha: keep the top 1/reduction_factor per rung")
        .min(2)
        .add_int("n_startup_trials", pruner.n_startup_trials, "median: completed trials before pruning")
        .min(0);
    Schema s("A sweep: which experiment to tune, how, for what objective, on what budget");
    s.add_required("experiment", ParamType::String, "the experiment file to tune (relative to the sweep file)")
        .add_string("variant", "", "the variant to tune (default: the experiment's only one)")
        .add_string("method", sweep.method, "grid, random or tpe").choices(samplers)
        .add_required("metric", ParamType::String, "the run summary value to optimise, e.g. best_val_top1")
        .add_required("mode", ParamType::String, "min or max").choices({Value("min"), Value("max")})
        .add_int("trials", 0, "budget: trials in total").min(1).optional()
        .add_float("max_minutes", 0, "budget: wall-clock minutes from the start of xp sweep").min(0).optional()
        .add_ints("seeds", {}, "seeds per trial, objective = their mean (default: the experiment's)").min(0)
        .optional()
        .add_int("sampler_seed", static_cast<int64_t>(sweep.sampler_seed), "seed of the sampler").min(0)
        .add_int("workers", sweep.workers, "default for --workers").min(1)
        .add_int("max_retries", sweep.max_retries, "re-runs of a trial whose worker vanished").min(0)
        .add_float("lease_seconds", sweep.lease_seconds, "how long a claim lives unless renewed").min(0)
        .add_section("tpe", tpe_section, "TPE sampler settings")
        .add_section("early_stopping", early_stopping, "pruning (absent: none)")
        .add_table("fixed", "--set overrides shared by every trial, e.g. train.epochs = 5");
    return s;
  }();
  return schema;
}

// One [space] entry. `values` of a choice may mix types, so it is checked here, not by the schema.
const Schema& dimension_schema() {
  static const Schema schema = [] {
    Schema s("A dimension of the search space");
    s.add_required("type", ParamType::String, "choice, uniform, loguniform, int or int_log")
        .choices({Value("choice"), Value("uniform"), Value("loguniform"), Value("int"), Value("int_log")})
        .add_float("low", 0, "lower bound (inclusive)").optional()
        .add_float("high", 0, "upper bound (inclusive)").optional()
        .add_int("step", 1, "int: the step between values").min(1).optional()
        .add_int("grid_points", 0, "grid sweeps: points taken from a range").min(1).optional();
    return s;
  }();
  return schema;
}

[[noreturn]] void fail(const Node& n, const std::string& message) { throw ConfigError(message, n.where); }

DimensionType dimension_type(const std::string& name) {
  if (name == "choice") return DimensionType::Choice;
  if (name == "uniform") return DimensionType::Uniform;
  if (name == "loguniform") return DimensionType::LogUniform;
  if (name == "int") return DimensionType::Int;
  return DimensionType::IntLog;
}

Dimension parse_dimension(const std::string& key, const Node& t) {
  const Params p("space." + key,
                 config::validate_params(t, dimension_schema(), "[space] '" + key + "'", config::no_plugins(),
                                         {"values"}, "space." + key),
                 t.where);
  Dimension d;
  d.key = key;
  d.where = t.where;
  d.type = dimension_type(p.get_string("type"));
  const Node* values = t.find("values");
  if (d.type == DimensionType::Choice) {
    for (const char* range_key : {"low", "high", "step", "grid_points"})
      if (const Node* n = t.find(range_key))
        throw ConfigError("'" + std::string(range_key) + "' does not apply to a choice; list its 'values'",
                          n->key_where);
    if (!values || !values->is_array() || values->items.empty())
      fail(values ? *values : t, "choice '" + key + "' needs a non-empty array 'values'");
    for (const auto& item : values->items) {
      Value value = item.to_value();
      if (std::find(d.values.begin(), d.values.end(), value) != d.values.end())
        fail(item, "choice '" + key + "' lists " + value.to_string() + " twice");
      d.values.push_back(std::move(value));
    }
    return d;
  }
  if (values) throw ConfigError("'values' applies to type \"choice\" only", values->key_where);
  const Node* low = t.find("low");
  const Node* high = t.find("high");
  if (!low || !high) fail(t, "'" + key + "' (" + p.get_string("type") + ") needs 'low' and 'high'");
  if (d.is_int() && (low->scalar.type() != Value::Type::Int || high->scalar.type() != Value::Type::Int))
    fail(low->scalar.type() == Value::Type::Int ? *high : *low,
         "'" + key + "' is an integer range: low and high must be integers");
  d.low = p.get_float("low");
  d.high = p.get_float("high");
  if (!(d.low < d.high)) fail(*high, "'" + key + "': high must be greater than low");
  if (d.is_log() && !(d.low > 0)) fail(*low, "'" + key + "' is on a log scale: low must be positive");
  if (p.has("step")) {
    const Node& step = *t.find("step");
    if (d.type != DimensionType::Int) fail(step, "'step' applies to type \"int\" only");
    d.step = p.get_int("step");
    if ((static_cast<int64_t>(d.high) - static_cast<int64_t>(d.low)) % d.step != 0)
      fail(step, "'" + key + "': high - low must be a multiple of step");
  }
  if (p.has("grid_points")) d.grid_points = p.get_int("grid_points");
  return d;
}

// [space] accepts quoted dotted keys ("loss.gamma" = {...}) and nested tables (loss.gamma = {...}).
void collect_dimensions(const Node& t, const std::string& prefix, std::vector<Dimension>& out,
                        ErrorCollector& errors) {
  for (const auto& [k, v] : t.fields) {
    const std::string key = prefix.empty() ? k : prefix + "." + k;
    if (!v.is_table()) {
      errors.add(ConfigError(
          "'" + key + "' in [space] must be a table like { type = \"uniform\", low = 0, high = 1 }", v.where));
      continue;
    }
    if (v.find("type") || v.fields.empty())
      errors.attempt([&, &v = v] { out.push_back(parse_dimension(key, v)); });
    else
      collect_dimensions(v, key, out, errors);
  }
}

// [sweep.fixed] as dotted keys: { train = { epochs = 5 } } -> "train.epochs" = 5.
void collect_fixed(const Value::Table& t, const std::string& prefix, std::map<std::string, Value>& out) {
  for (const auto& [k, v] : t) {
    const std::string key = prefix.empty() ? k : prefix + "." + k;
    if (v.type() == Value::Type::Table) collect_fixed(v.as_table(), key, out);
    else out[key] = v;
  }
}

void read_sweep_table(const Node& table, SweepConfig& c) {
  const Params p("sweep", config::validate_params(table, sweep_schema(), "[sweep]", config::no_plugins()),
                 table.where);
  const std::string experiment = p.get_string("experiment");
  if (experiment.empty()) fail(*table.find("experiment"), "[sweep] 'experiment' must name the experiment file to tune");
  c.experiment = fs::path(experiment).is_absolute() ? fs::path(experiment)
                                                    : (c.file.parent_path() / experiment).lexically_normal();
  c.variant = p.get_string("variant");
  c.method = p.get_string("method");
  c.metric = p.get_string("metric");
  if (c.metric.empty()) fail(*table.find("metric"), "[sweep] 'metric' must name a run summary value, e.g. best_val_top1");
  c.direction = parse_direction(p.get_string("mode"));
  if (p.has("trials")) c.trials = p.get_int("trials");
  if (p.has("max_minutes")) {
    c.max_minutes = p.get_float("max_minutes");
    if (!(*c.max_minutes > 0)) fail(*table.find("max_minutes"), "[sweep] 'max_minutes' must be positive");
  }
  if (!c.trials && !c.max_minutes && c.method != "grid")
    fail(table, "[sweep] needs a budget: 'trials', 'max_minutes' or both");
  if (p.has("seeds")) {
    c.seeds = p.get_ints("seeds");
    if (c.seeds.empty()) fail(*table.find("seeds"), "[sweep] 'seeds' must be a non-empty array of integers");
  }
  c.sampler_seed = static_cast<uint64_t>(p.get_int("sampler_seed"));
  c.workers = p.get_int("workers");
  c.max_retries = p.get_int("max_retries");
  c.lease_seconds = p.get_float("lease_seconds");
  if (!(c.lease_seconds > 0)) fail(*table.find("lease_seconds"), "[sweep] 'lease_seconds' must be positive");

  const Params tpe = p.get_section("tpe");
  c.tpe.n_startup_trials = tpe.get_int("n_startup_trials");
  c.tpe.n_ei_candidates = tpe.get_int("n_ei_candidates");
  c.tpe.prior_weight = tpe.get_float("prior_weight");
  if (!(c.tpe.prior_weight > 0)) fail(*table.find("tpe"), "[sweep.tpe] 'prior_weight' must be positive");
  c.tpe.consider_pruned = tpe.get_bool("consider_pruned");

  c.pruner.metric = c.metric;
  c.pruner.direction = c.direction;
  if (const Node* es_node = table.find("early_stopping")) {  // absent: no pruning
    const Params es = p.get_section("early_stopping");
    c.pruner.method = es.get_string("method");
    if (es.has("metric")) c.pruner.metric = es.get_string("metric");
    if (es.has("mode")) c.pruner.direction = parse_direction(es.get_string("mode"));
    c.pruner.min_epochs = es.get_int("min_epochs");
    c.pruner.reduction_factor = es.get_int("reduction_factor");
    c.pruner.n_startup_trials = es.get_int("n_startup_trials");
    if (c.pruner.method == "asha" && c.pruner.min_epochs < 1) fail(*es_node, "asha needs min_epochs >= 1");
  }
  if (p.has("fixed")) collect_fixed(p.get("fixed").as_table(), "", c.fixed);
}

}  // namespace

const Schema& sweep_file_schema() { return sweep_schema(); }

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
  const Node root = config::parse_toml_text(text, source.string());
  SweepConfig c;
  c.file = fs::absolute(source);
  c.text = text;
  // [sweep] and every [space] entry are checked independently: all their mistakes are reported at once.
  ErrorCollector errors;
  const std::vector<std::string> top_level = {"sweep", "space"};
  for (const auto& [key, node] : root.fields)
    if (std::find(top_level.begin(), top_level.end(), key) == top_level.end())
      errors.add(ConfigError("unknown table '" + key + "' in a sweep file" + did_you_mean(key, top_level) +
                                 " (a sweep file has [sweep] and [space])",
                             node.key_where));
  const Node* sweep = root.find("sweep");
  if (!sweep) errors.add(ConfigError("a sweep file needs a [sweep] table", source.string()));
  else if (!sweep->is_table()) errors.add(ConfigError("'sweep' must be a table", sweep->where));
  else errors.attempt([&] { read_sweep_table(*sweep, c); });

  const Node* space = root.find("space");
  std::vector<Dimension> dims;
  if (!space || (space->is_table() && space->fields.empty()))
    errors.add(ConfigError("a sweep file needs a non-empty [space]", space ? space->where : source.string()));
  else if (!space->is_table()) errors.add(ConfigError("'space' must be a table", space->where));
  else collect_dimensions(*space, "", dims, errors);
  errors.throw_if_any();

  c.space = SearchSpace(std::move(dims));
  for (const auto& d : c.space.dimensions())
    if (c.fixed.count(d.key)) throw ConfigError("'" + d.key + "' is both in [sweep.fixed] and in [space]", d.where);
  if (c.method == "grid") c.space.grid_size();  // a float range without grid_points fails here, not mid-sweep
  return c;
}

SweepConfig parse_sweep_file(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw ConfigError("cannot read sweep file '" + file.string() + "': " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_sweep_text(ss.str(), file);
}

}  // namespace xp::sweeps
