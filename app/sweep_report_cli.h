#pragma once
// A sweep looked up by id in a registry and its report, shared by `xp sweep status|report` and
// `xp report --sweep`, so both print the same thing from the same code.
#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <utility>

#include "sql_sweep_store.h"
#include "sweep_config.h"

namespace xp::cli {

// The sweep and its parsed config, or a ConfigError (exit 2) naming the closest known sweep id.
std::pair<sweeps::SweepRecord, sweeps::SweepConfig> load_sweep(sweeps::SqlSweepStore& store, const std::string& id,
                                                               const std::filesystem::path& registry);

struct SweepReportRequest {
  std::string id;
  std::string registry;     // --registry ("" = $XP_REGISTRY or ./xp-runs/registry.db)
  int64_t top = 0;          // --top: only the N best trials in the ranking (0 = all)
  std::string best_config;  // --best-config: also write the best configuration here
  std::string html;         // --html: also write the sweep's page here (report/sweep_page.h)
};

// Prints sweeps::write_sweep_report for the sweep and writes --best-config and --html; returns the
// exit code.
int report_sweep(const SweepReportRequest& request, std::ostream& os);

}  // namespace xp::cli
