#include "config/monitor_check.h"

#include <algorithm>

#include "engine/monitor.h"
#include "engine/train_options.h"
#include "xp/base/suggest.h"
#include "xp/errors.h"
#include "xp/plugin_registry.h"

namespace xp::config {

bool declared_metric_outputs(const std::vector<Params>& metrics, std::vector<std::string>& outputs) {
  auto& registry = PluginRegistry::instance();
  for (const auto& m : metrics) {
    const PluginEntry* entry = registry.find("metric", m.plugin());
    if (!entry || entry->schema.output_names().empty()) return false;
    for (const auto& o : entry->schema.output_names()) outputs.push_back(o);
  }
  return true;
}

namespace {

// file:line:col of train.<section>.<key> as written, else of the section, else of [train].
std::string where_of(const Node& train, const std::string& section, const std::string& key, const std::string& fallback) {
  const Node* s = section.empty() ? &train : train.find(section);
  if (!s) return train.where.empty() ? fallback : train.where;
  if (const Node* k = s->find(key)) return k->where.empty() ? s->where : k->where;
  return s->where.empty() ? fallback : s->where;
}

// Concrete names to suggest: patterns are shown as written ("val_top*").
std::string suggestion(const std::string& name, const std::vector<std::string>& names) {
  std::string hint = did_you_mean(name, names);
  if (hint.empty()) {
    hint = " (an epoch logs:";
    for (const auto& n : names) hint += " " + n;
    hint += ")";
  }
  return hint;
}

}  // namespace

void check_monitors(const Params& train, const std::vector<Params>& metrics, const Node& train_node,
                    const std::string& fallback_where) {
  std::vector<std::string> outputs;
  if (!declared_metric_outputs(metrics, outputs)) return;
  const engine::TrainOptions o = engine::TrainOptions::from_params(train);
  std::vector<std::string> names = engine::epoch_metric_names(outputs);
  names.push_back("lr");
  auto check = [&](const std::string& name, const std::string& section, const std::string& what) {
    if (name == "lr" || engine::is_epoch_metric(name, outputs)) return;
    throw ConfigError(what + " = '" + name + "' is not a metric this run logs" + suggestion(name, names) +
                          " (each [[metrics]] plugin's outputs: xp plugins show <metric>)",
                      where_of(train_node, section, "monitor", fallback_where));
  };
  check(o.checkpoint.monitor, "checkpoint", "train.checkpoint.monitor");
  if (o.early_stopping.enabled) check(o.early_stopping.monitor, "early_stopping", "train.early_stopping.monitor");
  std::vector<std::string> stems{"loss"};
  for (const auto& out : outputs) stems.push_back(out);
  for (const auto& stem : o.console) {
    const bool known = std::any_of(stems.begin(), stems.end(), [&](const std::string& s) {
      return s == stem || glob_match(s, stem);
    });
    if (!known)
      throw ConfigError("train.console names '" + stem + "', which no configured metric reports" +
                            suggestion(stem, stems),
                        where_of(train_node, "", "console", fallback_where));
  }
}

}  // namespace xp::config
