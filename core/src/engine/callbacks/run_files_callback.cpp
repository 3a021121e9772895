#include "engine/callbacks/run_files_callback.h"

namespace xp::engine {

void RunFilesCallback::write(const TrainState& state) {
  files_.write_metrics(state.history);
  files_.write_skipped_report();
}

void RunFilesCallback::on_fit_end(TrainState& state) {
  write(state);
  state.new_artifacts.emplace_back(files_.skipped_report_path().string(), "report");
  state.new_artifacts.emplace_back(files_.metrics_path().string(), "metrics");
  state.new_artifacts.emplace_back(files_.log_path().string(), "log");
}

}  // namespace xp::engine
