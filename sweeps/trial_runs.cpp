#include "trial_runs.h"

#include "run_registry.h"

namespace xp::sweeps {

TrialRuns::TrialRuns(const std::filesystem::path& registry) : registry_(std::make_unique<RunRegistry>(registry)) {}
TrialRuns::~TrialRuns() = default;

std::vector<TrialRun> TrialRuns::find(const std::string& sweep_id, int64_t trial, int64_t attempt, int64_t pid,
                                      double since, const std::string& epoch_metric) {
  RunQuery q;
  q.where = "start >= " + std::to_string(static_cast<int64_t>(since) - 2);
  q.sort = "start";
  const std::map<std::string, std::string> tags = {
      {"sweep", sweep_id}, {"trial", std::to_string(trial)}, {"attempt", std::to_string(attempt)}};
  const std::string host = current_host();
  std::vector<TrialRun> out;
  for (const auto& r : registry_->list_runs(q)) {
    if (r.info.pid != pid || (!r.info.host.empty() && r.info.host != host)) continue;
    for (const auto& [k, v] : tags) {
      auto it = r.info.tags.find(k);
      if (it == r.info.tags.end() || it->second != v) registry_->set_tag(r.id, k, v);
    }
    TrialRun t;
    t.id = r.id;
    t.status = run_status_name(r.status);
    t.message = r.message;
    t.metrics = r.metrics();
    t.start_time = r.start_time;
    for (const auto& p : registry_->metric_history(r.id))
      if (p.name == epoch_metric) t.epochs[p.epoch] = p.value;  // the last step of an epoch wins
    out.push_back(std::move(t));
  }
  return out;
}

void TrialRuns::mark(const std::string& run_id, const std::string& status, const std::string& message) {
  RunStatus s = status == "pruned" ? RunStatus::Pruned : RunStatus::Interrupted;
  registry_->finish(run_id, s, message);
}

}  // namespace xp::sweeps
