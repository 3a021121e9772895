// xp plugins list|show: what the loaded plugin libraries offer.
#include <iostream>
#include <sstream>

#include "command.h"
#include <nlohmann/json.hpp>
#include "options.h"
#include "xp/base/suggest.h"
#include <algorithm>
#include <filesystem>
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

int list(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string kind, pattern = "*";
  desc.add_options()("kind", po::value(&kind), "only plugins of this kind (model, loss, dataset, ...)")(
      "pattern", po::value(&pattern), "glob on the plugin name, e.g. '*unet*'")("json", "print JSON")(
      "plugin-path", po::value<std::vector<std::string>>()->composing(), "extra plugin library or folder");
  po::positional_options_description pos;
  pos.add("pattern", 1);
  po::variables_map vm;
  if (!parse_options("xp plugins list [PATTERN] [--kind K] [--json]", desc, pos, args, vm)) return kOk;
  load_plugins(vm.count("plugin-path") ? vm["plugin-path"].as<std::vector<std::string>>() : std::vector<std::string>{});
  auto& registry = PluginRegistry::instance();
  if (!kind.empty()) {
    auto kinds = registry.kinds();
    if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end())
      throw UsageError("no plugins of kind '" + kind + "' are loaded" + did_you_mean(kind, kinds));
  }
  auto entries = registry.list(kind, pattern);
  if (vm.count("json")) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto* e : entries)
      out.push_back({{"name", e->name}, {"kind", e->kind}, {"library", e->library}, {"doc", e->schema.doc()}});
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
                            {"doc", e->schema.doc()}, {"params", params}};
      std::cout << out.dump(2) << "\n";
      continue;
    }
    std::cout << e->kind << " '" << e->name << "': " << e->schema.doc() << "\n  library: " << e->library << "\n";
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
    std::cout << "usage: xp plugins list [PATTERN] [--kind K] [--json]\n"
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
