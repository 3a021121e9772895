#include "options.h"
#include "registry_option.h"

#include <iostream>
#include <sstream>

#include "xp/base/suggest.h"

namespace xp::cli {

bool parse_options(const std::string& usage, po::options_description& desc,
                   const po::positional_options_description& positional, const std::vector<std::string>& args,
                   po::variables_map& vm) {
  desc.add_options()("help,h", "show this help");
  try {
    po::store(po::command_line_parser(args).options(desc).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: " << usage << "\n\n" << desc << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::unknown_option& e) {
    std::vector<std::string> names;
    for (const auto& o : desc.options()) names.push_back("--" + o->long_name());
    throw UsageError(std::string(e.what()) + did_you_mean(e.get_option_name(), names) + "\nusage: " + usage);
  } catch (const po::error& e) {
    throw UsageError(std::string(e.what()) + "\nusage: " + usage);
  }
  return true;
}

std::vector<int64_t> parse_seed_list(const std::string& text) {
  std::vector<int64_t> seeds;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      long long s = std::stoll(item, &used);
      if (used != item.size() || s < 0) throw std::invalid_argument(item);
      seeds.push_back(s);
    } catch (const std::exception&) {
      throw UsageError("--seeds expects non-negative integers separated by commas, e.g. --seeds 1,2,3; got '" +
                       text + "'");
    }
  }
  if (seeds.empty()) throw UsageError("--seeds needs at least one seed");
  return seeds;
}

const char* const kRegistryOptionHelp =
    "registry: a SQLite file or postgresql://user@host/db (default $XP_REGISTRY, else ./xp-runs/registry.db)";

void add_registry_option(po::options_description& desc, std::string& registry) {
  desc.add_options()("registry", po::value(&registry), kRegistryOptionHelp);
}

}  // namespace xp::cli
