#pragma once
// Boost.Program_options glue shared by every subcommand: --help, and usage errors that name the
// closest valid option.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

namespace xp::cli {

namespace po = boost::program_options;

// Bad command line; main() prints it and exits with code 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses `args` into `vm`. Adds --help; returns false after printing help (the caller exits 0).
// `usage` is the synopsis line, e.g. "xp validate EXPERIMENT.toml [options]".
bool parse_options(const std::string& usage, po::options_description& desc,
                   const po::positional_options_description& positional, const std::vector<std::string>& args,
                   po::variables_map& vm);

// "1,2,3" -> {1, 2, 3} for --seeds of run and validate; UsageError on anything else.
std::vector<int64_t> parse_seed_list(const std::string& text);

// --registry, written once for every command that takes a registry: a SQLite file or a
// postgresql://user@host/db URL (default $XP_REGISTRY, else ./xp-runs/registry.db).
void add_registry_option(po::options_description& desc, std::string& registry);
extern const char* const kRegistryOptionHelp;

// Loads the bundled plugins, XP_PLUGIN_PATH and `extra` (files or folders); prints a warning for
// each library that could not be loaded.
void load_plugins(const std::vector<std::string>& extra = {});

}  // namespace xp::cli
