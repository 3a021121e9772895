#pragma once
// `xp registry copy SRC DST`: runs (with their metrics, statistics, params, summary values,
// artifacts and tags) and sweeps (with their trials) from one registry into another, across
// backends, e.g. a laptop's SQLite file into the lab's PostgreSQL. Idempotent: a run already in
// DST is left alone unless SRC holds a later state of it (a run copied while it was still
// running); a sweep already in DST is left alone unless SRC has trials DST lacks or a later state
// of one. Copying twice adds nothing.

#include <cstdint>
#include <iosfwd>
#include <string>

namespace xp::registry {

struct CopyOptions {
  std::string experiment;  // only this experiment's runs (sweeps of it too); empty: all
  std::string where;       // `xp runs --where` filter on the runs; empty: all
  bool runs = true, sweeps = true;
  bool dry_run = false;    // count what would be copied, write nothing
};

struct CopyResult {
  int64_t runs_copied = 0, runs_updated = 0, runs_skipped = 0;
  int64_t sweeps_copied = 0, sweeps_updated = 0, sweeps_skipped = 0;
  int64_t rows = 0;  // child rows written (metrics, params, ... trials)
};

// Throws xp::ConfigError for a bad --where, sql::Error when a registry cannot be opened or written.
CopyResult copy_registry(const std::string& source, const std::string& destination, const CopyOptions& options,
                         std::ostream* progress = nullptr);

}  // namespace xp::registry
