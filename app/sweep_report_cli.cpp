#include "sweep_report_cli.h"

#include <fstream>

#include "command.h"
#include "html_page.h"
#include "options.h"
#include "run_registry.h"
#include "xp/base/suggest.h"
#include "sweep_page.h"
#include "sweep_report.h"
#include "xp/base/atomic_file.h"
#include "xp/errors.h"

namespace xp::cli {

using namespace xp::sweeps;

std::pair<SweepRecord, SweepConfig> load_sweep(SqlSweepStore& store, const std::string& id,
                                               const std::filesystem::path& registry) {
  auto sweep = store.find_sweep(id);
  if (!sweep) {
    std::vector<std::string> ids;
    for (const auto& s : store.list_sweeps()) ids.push_back(s.id);
    throw ConfigError("no sweep '" + id + "' in " + registry.string() + did_you_mean(id, ids));
  }
  return {*sweep, parse_sweep_text(sweep->config_text, sweep->config_path)};
}

int report_sweep(const SweepReportRequest& request, std::ostream& os) {
  if (request.top < 0) throw UsageError("--top must be at least 1 (or 0 for all trials)");
  const auto path = existing_registry_path(request.registry);
  SqlSweepStore store(path);
  auto [sweep, config] = load_sweep(store, request.id, path);
  const auto trials = store.trials(request.id);
  const std::string toml = write_sweep_report(os, sweep, config, trials, request.top);
  if (!request.best_config.empty() && toml.empty()) os << "(no completed trial: " << request.best_config << " not written)\n";
  if (!request.best_config.empty() && !toml.empty()) {
    write_file_atomically(request.best_config, toml, "best configuration");
    os << "wrote " << request.best_config << "\n";
  }
  if (!request.html.empty()) {
    report::write_page(request.html, report::sweep_page_html(sweep, config, trials));
    os << "wrote " << request.html << "\n";
  }
  return kOk;
}

}  // namespace xp::cli
