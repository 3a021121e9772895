#include "config/task_check.h"

#include <algorithm>

#include "xp/errors.h"

namespace xp::config {

namespace {

bool contains(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

}  // namespace

bool tasks_compatible(const std::vector<std::string>& accepted, const std::vector<std::string>& produced) {
  if (accepted.empty() || produced.empty()) return true;
  for (const auto& task : accepted) {
    if (contains(produced, task)) return true;
    if (task == "classification" && contains(produced, "hierarchical")) return true;
  }
  return false;
}

std::string tasks_text(const std::vector<std::string>& tasks) {
  std::string text;
  for (size_t i = 0; i < tasks.size(); ++i)
    text += (i == 0 ? "" : i + 1 == tasks.size() ? " or " : ", ") + tasks[i];
  return text;
}

std::vector<ConfigError> task_errors(const RunSpec& spec, const PluginRegistry& registry) {
  std::vector<ConfigError> errors;
  if (spec.data.plugin().empty()) return errors;  // a partial file without [data]
  const PluginEntry* dataset = registry.find("dataset", spec.data.plugin());
  if (!dataset || dataset->schema.task_names().empty()) return errors;
  const std::vector<std::string>& produced = dataset->schema.task_names();

  auto check = [&](const std::string& kind, const std::string& table, const Params& p) {
    if (p.plugin().empty()) return;
    const PluginEntry* entry = registry.find(kind, p.plugin());
    if (!entry || tasks_compatible(entry->schema.task_names(), produced)) return;
    errors.emplace_back(table + " '" + p.plugin() + "' takes " + tasks_text(entry->schema.task_names()) +
                            " data, but dataset '" + spec.data.plugin() + "' (" + spec.data.where() + ") is " +
                            tasks_text(produced) + "; xp plugins list --kind " + kind + " --task " +
                            produced.front() + " lists the ones that fit",
                        p.where());
  };
  check("model", "model", spec.model);
  check("loss", "loss", spec.loss);
  check("sampler", "sampler", spec.sampler);
  for (size_t i = 0; i < spec.augment.size(); ++i)
    check("augmentation", "augment[" + std::to_string(i) + "]", spec.augment[i]);
  for (size_t i = 0; i < spec.eval_augment.size(); ++i)
    check("augmentation", "eval_augment[" + std::to_string(i) + "]", spec.eval_augment[i]);
  for (size_t i = 0; i < spec.batch_augment.size(); ++i)
    check("batch_augmentation", "batch_augment[" + std::to_string(i) + "]", spec.batch_augment[i]);
  for (size_t i = 0; i < spec.metrics.size(); ++i)
    check("metric", "metrics[" + std::to_string(i) + "]", spec.metrics[i]);
  return errors;
}

}  // namespace xp::config
