#include "engine/callbacks/console.h"

#include <sstream>

#include "engine/metrics_format.h"
#include "xp/base/duration.h"

namespace xp::engine {

void ConsoleCallback::on_epoch_start(TrainState& state, int64_t epoch) {
  epoch_start_ = std::chrono::steady_clock::now();
  if (!log_.tty() && !lines_) lines_ = std::make_unique<ProgressLines>(log_.out());
  bar_ = std::make_unique<ProgressBar>(log_.out(), log_.tty(),
                                       "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(state.total_epochs),
                                       state.batches_per_epoch);
}

void ConsoleCallback::on_batch_end(TrainState&, const BatchEnd& end) {
  if (lines_)
    lines_->update(end.epoch + 1, end.batch, end.batches, end.mean_loss,
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start_).count());
  if (!bar_) return;
  bar_->update(end.batch, end.mean_loss);
  if (end.batch >= end.batches) bar_.reset();  // the validation pass draws its own
}

void ConsoleCallback::on_epoch_end(TrainState& state, const MetricsRow& row) {
  bar_.reset();
  std::ostringstream line;
  const auto time = row.find("time_epoch_s");
  line << "epoch " << static_cast<int64_t>(row.at("epoch")) << "/" << state.total_epochs << format_row(row, stems_)
       << "  " << format_duration(time == row.end() ? std::optional<double>() : time->second, DurationStyle::Clock)
       << (state.improved ? "  *" : "");
  log_.line(line.str());
}

void ConsoleCallback::on_test_end(TrainState& state) {
  std::map<std::string, double> test;
  for (const auto& [k, v] : state.summary)
    if (k.rfind("test_", 0) == 0 && k != "test_epoch" && k.rfind("test_cal_", 0) != 0) test[k] = v;
  log_.line("test" + format_row(test, stems_));
}

void ConsoleCallback::on_fit_end(TrainState& state) {
  bar_.reset();
  if (state.status == RunStatus::Diverged) log_.line("diverged: " + state.message);
  if (state.status == RunStatus::Interrupted) log_.line(state.message + "; resume with --resume");
}

}  // namespace xp::engine
