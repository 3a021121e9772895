#pragma once
// `xp sweep SWEEP.toml`: records the sweep in the store, keeps N worker processes
// (`xp sweep worker ID`) running while there is work, prints trials as they finish and the best
// one at the end. Ctrl-C stops the workers (their trials are marked interrupted) and leaves the
// sweep resumable with --resume ID.

#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>

namespace xp::sweeps {

struct SweepOptions {
  std::filesystem::path sweep_file;  // new sweep (ignored with resume_id)
  std::string resume_id;             // continue this sweep
  std::filesystem::path registry;
  std::optional<int64_t> workers;    // default: the sweep file's `workers`
  std::filesystem::path xp_binary;   // default: this binary
  double poll_seconds = 1.0;
};

// Returns the exit code: 0 done, 130 interrupted, 1 when no trial completed.
int run_sweep(const SweepOptions& options, std::ostream& out);

}  // namespace xp::sweeps
