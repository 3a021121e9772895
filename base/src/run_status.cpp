#include "xp/base/run_status_names.h"

namespace xp {

const char* run_status_name(RunStatus s) {
  switch (s) {
    case RunStatus::Running: return "running";
    case RunStatus::Finished: return "finished";
    case RunStatus::Failed: return "failed";
    case RunStatus::Diverged: return "diverged";
    case RunStatus::Crashed: return "crashed";
    case RunStatus::Pruned: return "pruned";
    case RunStatus::Interrupted: return "interrupted";
  }
  return "unknown";
}

const std::vector<std::string>& run_status_names() {
  static const std::vector<std::string> names = {"running", "finished", "failed", "diverged",
                                                 "crashed", "pruned", "interrupted"};
  return names;
}

std::optional<RunStatus> parse_run_status(const std::string& name) {
  for (RunStatus s : {RunStatus::Running, RunStatus::Finished, RunStatus::Failed, RunStatus::Diverged,
                      RunStatus::Crashed, RunStatus::Pruned, RunStatus::Interrupted})
    if (name == run_status_name(s)) return s;
  return std::nullopt;
}

}  // namespace xp
