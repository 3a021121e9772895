#pragma once
// Before anything is built: every plugin of a run must be for the task of the run's dataset, as
// their schemas declare it (Schema::tasks). mixup on a segmentation dataset, a class-index loss
// (focal) or a classification metric on segmentation masks, a U-Net on class labels: each is an
// error at the plugin's table (file:line:col) naming both tasks. Plugins (or a dataset) that
// declare no tasks are not checked here; the dry build (config/dry_build.h) still runs them.

#include <string>
#include <vector>

#include "config/run_spec.h"
#include "xp/errors.h"
#include "xp/plugin_registry.h"

namespace xp::config {

// Whether a plugin declaring `accepted` works on the data of a dataset declaring `produced`. Either
// list empty (undeclared) = true. A dataset that may produce "hierarchical" also feeds every
// classification plugin (hierarchical classification is classification with grouped classes).
bool tasks_compatible(const std::vector<std::string>& accepted, const std::vector<std::string>& produced);

// "segmentation", "classification or hierarchical": a task list for messages.
std::string tasks_text(const std::vector<std::string>& tasks);

// One error per plugin of `spec` whose declared tasks do not fit those of its dataset, at the
// plugin's table; none when they all fit (or the dataset declares no task).
std::vector<ConfigError> task_errors(const RunSpec& spec, const PluginRegistry& registry = PluginRegistry::instance());

}  // namespace xp::config
