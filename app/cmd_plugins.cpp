// xp plugins list|show: what the loaded plugin libraries offer.
#include <iostream>
#include <sstream>

#include "command.h"
#include <nlohmann/json.hpp>
#include "options.h"
#include "xp/base/suggest.h"
#include <algorithm>
#include <filesystem>
#include "config/task_check.h"
#include "xp/dataset.h"
#include "xp/plugin_registry.h"

namespace xp::cli {
namespace {

std::string describe_range(const ParamSpec& p) {
  std::ostringstream os;
  if (!p.choices.empty()) {
    os << "one of ";
    for (size_t i = 0; i < p.choices.size(); ++i) os << (i ? ", " : "") << p.choices[i].to_string();
  } else if (p.min || p.max) {
    os << p.range_text();
  } else if (!p.plugin_kind.empty()) {
    os << "a " << p.plugin_kind << " plugin table";
  }
  return os.str();
}

// "segmentation", "classification, hierarchical", or "any (not declared)".
std::string tasks_line(const Schema& schema) {
  std::string text;
  for (const auto& t : schema.task_names()) text += (text.empty() ? "" : ", ") + t;
  return text.empty() ? "any (not declared)" : text;
}

int list(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string kind, pattern = "*", task;
  desc.add_options()("kind", po::value(&kind), "only plugins of this kind (model, loss, dataset, ...)")(
      "task", po::value(&task),
      "only plugins that fit data of this task (classification, segmentation, hierarchical); plugins that "
      "declare no task are listed too")(
      "pattern", po::value(&pattern), "glob on the plugin name, e.g. '*unet*'")("json", "print JSON")(
      "plugin-path", po::value<std::vector<std::string>>()->composing(), "extra plugin library or folder");
  po::positional_options_description pos;
  pos.add("pattern", 1);
  po::variables_map vm;
  if (!parse_options("xp plugins list [PATTERN] [--kind K] [--task T] [--json]", desc, pos, args, vm)) return kOk;
  if (!task.empty() && std::find(known_tasks().begin(), known_tasks().end(), task) == known_tasks().end())
    throw UsageError("--task: unknown task '" + task + "'" + did_you_mean(task, known_tasks()) +
                     " (tasks: classification, segmentation, hierarchical)");
  load_plugins(vm.count("plugin-path") ? vm["plugin-path"].as<std::vector<std::string>>() : std::vector<std::string>{});
  auto& registry = PluginRegistry::instance();
  if (!kind.empty()) {
    auto kinds = registry.kinds();
    if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end())
      throw UsageError("no plugins of kind '" + kind + "' are loaded" + did_you_mean(kind, kinds));
  }
  auto entries = registry.list(kind, pattern);
  if (!task.empty()) {
    // A dataset fits when it may produce the task; any other plugin when it accepts that data.
    entries.erase(std::remove_if(entries.begin(), entries.end(),
                                 [&](const PluginEntry* e) {
                                   return e->kind == Dataset::kKind
                                              ? !config::tasks_compatible({task}, e->schema.task_names())
                                              : !config::tasks_compatible(e->schema.task_names(), {task});
                                 }),
                  entries.end());
  }
  if (vm.count("json")) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto* e : entries)
      out.push_back({{"name", e->name}, {"kind", e->kind}, {"library", e->library}, {"doc", e->schema.doc()},
                     {"tasks", e->schema.task_names()}});
    std::cout << out.dump(2) << "\n";
    return kOk;
  }
  std::string current;
  for (const auto* e : entries) {
    if (e->kind != current) {
      std::cout << (current.empty() ? "" : "\n") << e->kind << ":\n";
      current = e->kind;
    }
    std::string name = e->name;
    name.resize(std::max<size_t>(name.size() + 1, 24), ' ');
    std::string lib = std::filesystem::path(e->library).filename().string();
    std::cout << "  " << name << e->schema.doc() << "  [" << lib << "]\n";
  }
  if (entries.empty()) std::cout << "no plugins match\n";
  return kOk;
}

int show(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string name, kind;
  desc.add_options()("name", po::value(&name)->required(), "plugin name")(
      "kind", po::value(&kind), "kind, when several kinds share the name")("json", "print JSON")(
      "plugin-path", po::value<std::vector<std::string>>()->composing(), "extra plugin library or folder");
  po::positional_options_description pos;
  pos.add("name", 1);
  po::variables_map vm;
  if (!parse_options("xp plugins show NAME [--kind K] [--json]", desc, pos, args, vm)) return kOk;
  load_plugins(vm.count("plugin-path") ? vm["plugin-path"].as<std::vector<std::string>>() : std::vector<std::string>{});
  auto& registry = PluginRegistry::instance();
  std::vector<const PluginEntry*> found;
  std::vector<std::string> all;
  for (const auto* e : registry.list(kind)) {
    all.push_back(e->name);
    if (e->name == name) found.push_back(e);
  }
  if (found.empty()) throw UsageError("no plugin named '" + name + "'" + did_you_mean(name, all));
  for (const auto* e : found) {
    if (vm.count("json")) {
      nlohmann::json params = nlohmann::json::array();
      for (const auto& p : e->schema.params())
        params.push_back({{"name", p.name}, {"type", param_type_name(p.type)}, {"required", p.required},
                          {"default", p.default_value.to_string()}, {"allowed", describe_range(p)}, {"doc", p.doc}});
      nlohmann::json out = {{"name", e->name}, {"kind", e->kind}, {"library", e->library},
                            {"doc", e->schema.doc()}, {"tasks", e->schema.task_names()}, {"params", params}};
      std::cout << out.dump(2) << "\n";
      continue;
    }
    std::cout << e->kind << " '" << e->name << "': " << e->schema.doc() << "\n  library: " << e->library << "\n"
              << (e->kind == Dataset::kKind ? "  produces: " : "  tasks: ") << tasks_line(e->schema) << "\n";
    if (e->schema.params().empty()) std::cout << "  (no parameters)\n";
    for (const auto& p : e->schema.params()) {
      std::cout << "  " << p.name << " : " << param_type_name(p.type);
      if (p.required) std::cout << " (required)";
      else if (!p.default_value.is_none()) std::cout << " = " << p.default_value.to_string();
      std::string r = describe_range(p);
      if (!r.empty()) std::cout << "  " << r;
      std::cout << "\n      " << p.doc << "\n";
    }
  }
  return kOk;
}

int plugins(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << "usage: xp plugins list [PATTERN] [--kind K] [--task T] [--json]\n"
                 "       xp plugins show NAME [--kind K] [--json]\n";
    return args.empty() ? kUsage : kOk;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "list") return list(rest);
  if (args[0] == "show") return show(rest);
  throw UsageError("unknown subcommand 'plugins " + args[0] + "'" + did_you_mean(args[0], {"list", "show"}));
}

}  // namespace

XP_CLI_COMMAND("plugins", "list registered plugins and show their parameters", plugins);

}  // namespace xp::cli
