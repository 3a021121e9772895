#pragma once
// --registry, written once for every command that takes a registry: a SQLite file or a
// postgresql://user@host/db URL (default $XP_REGISTRY, else ./xp-runs/registry.db).
#include <string>

#include <boost/program_options.hpp>

namespace xp::cli {

extern const char* const kRegistryOptionHelp;
void add_registry_option(boost::program_options::options_description& desc, std::string& registry);

}  // namespace xp::cli
