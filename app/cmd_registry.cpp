// xp registry: the registry itself (docs/registry.md).
//   xp registry copy SRC DST [--experiment NAME] [--where EXPR] [--no-sweeps] [--dry-run]
//   xp registry info [--registry PATH|URL]
#include <iostream>

#include "command.h"
#include "options.h"
#include "registry_option.h"
#include "registry_copy.h"
#include "registry_schema.h"
#include "run_registry.h"
#include "sql_db.h"
#include "xp/base/suggest.h"
#include "xp/errors.h"

namespace xp::cli {
namespace {

const char* kRegistryUsage =
    "usage: xp registry copy SRC DST [--experiment NAME] [--where EXPR] [--no-sweeps] [--dry-run]\n"
    "       xp registry info [--registry PATH|URL]\n"
    "  a registry is a SQLite file or a PostgreSQL URL, e.g. postgresql://me@dbhost/xp\n";

int copy(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string source, destination;
  registry::CopyOptions options;
  desc.add_options()("source", po::value(&source)->required(), "registry to copy from")(
      "destination", po::value(&destination)->required(), "registry to copy into (created when missing)")(
      "experiment,e", po::value(&options.experiment), "only runs of this experiment")(
      "where,w", po::value(&options.where), "only runs matching this `xp runs --where` expression")(
      "no-sweeps", po::bool_switch(), "copy runs only")("dry-run,n", po::bool_switch(&options.dry_run),
                                                          "count what would be copied; write nothing");
  po::positional_options_description pos;
  pos.add("source", 1).add("destination", 1);
  po::variables_map vm;
  if (!parse_options("xp registry copy SRC DST [--experiment NAME] [--where EXPR] [--no-sweeps] [--dry-run]", desc,
                     pos, args, vm))
    return kOk;
  options.sweeps = !vm["no-sweeps"].as<bool>();
  if (!sql::is_postgres_url(source) && !std::filesystem::exists(source))
    throw ConfigError("no registry at " + source + " (a SQLite file or a postgresql:// URL)");
  auto r = registry::copy_registry(source, destination, options, &std::cerr);
  std::cout << (options.dry_run ? "would copy" : "copied") << " " << r.runs_copied << " run(s), updated "
            << r.runs_updated << ", " << r.runs_skipped << " already there; sweeps: " << r.sweeps_copied
            << " copied, " << r.sweeps_updated << " updated, " << r.sweeps_skipped << " already there";
  if (!options.dry_run) std::cout << " (" << r.rows << " rows)";
  std::cout << "\n  " << sql::redact_location(source) << " -> " << sql::redact_location(destination) << "\n";
  return kOk;
}

int info(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string registry_option;
  add_registry_option(desc, registry_option);
  po::variables_map vm;
  if (!parse_options("xp registry info [--registry PATH|URL]", desc, {}, args, vm)) return kOk;
  auto location = existing_registry_path(registry_option).string();
  RunRegistry reg(location);
  auto& db = reg.database();
  auto count = [&](const char* table) {
    auto st = db.prepare(std::string("SELECT COUNT(*) FROM ") + table);
    return st.step() ? st.int64(0) : 0;
  };
  std::cout << "registry " << reg.path().string() << "\n"
            << "  backend: " << (db.dialect() == sql::Dialect::Postgres ? "postgresql" : "sqlite")
            << ", schema version " << registry::schema_version(db) << "\n"
            << "  runs: " << count("runs") << " (" << reg.experiments().size() << " experiment(s)), metric rows: "
            << count("metrics") << "\n"
            << "  sweeps: " << count("sweeps") << ", trials: " << count("sweep_trials") << "\n";
  return kOk;
}

int registry_command(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kRegistryUsage;
    return args.empty() ? kUsage : kOk;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "copy") return copy(rest);
  if (args[0] == "info") return info(rest);
  throw UsageError("unknown subcommand 'registry " + args[0] + "'" + did_you_mean(args[0], {"copy", "info"}) + "\n" +
                   kRegistryUsage);
}

}  // namespace

XP_CLI_COMMAND("registry", "the run registry: copy runs between SQLite and PostgreSQL registries, info",
               registry_command);

}  // namespace xp::cli
