#include "trial.h"

#include "xp/base/suggest.h"
#include "xp/errors.h"

namespace xp::sweeps {

Direction parse_direction(const std::string& mode) {
  if (mode == "min") return Direction::Minimize;
  if (mode == "max") return Direction::Maximize;
  throw ConfigError("mode must be \"min\" or \"max\", not \"" + mode + "\"" + did_you_mean(mode, {"min", "max"}));
}

const char* direction_name(Direction d) { return d == Direction::Maximize ? "max" : "min"; }

namespace {
const std::vector<std::pair<TrialState, const char*>> kStateNames = {
    {TrialState::Waiting, "waiting"},   {TrialState::Running, "running"}, {TrialState::Complete, "complete"},
    {TrialState::Pruned, "pruned"},     {TrialState::Failed, "failed"},   {TrialState::Crashed, "crashed"},
    {TrialState::Interrupted, "interrupted"}};
}  // namespace

const char* trial_state_name(TrialState s) {
  for (const auto& [state, name] : kStateNames)
    if (state == s) return name;
  return "?";
}

TrialState parse_trial_state(const std::string& name) {
  for (const auto& [state, n] : kStateNames)
    if (name == n) return state;
  throw std::runtime_error("unknown trial state '" + name + "' in the sweep store");
}

}  // namespace xp::sweeps
