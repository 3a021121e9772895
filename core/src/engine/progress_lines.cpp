#include "engine/progress_lines.h"

#include <cmath>
#include <cstdio>

#include "xp/base/duration.h"

namespace xp::engine {

ProgressLines::ProgressLines(std::ostream& out, double every_seconds) : out_(out), every_(every_seconds) {}

std::string ProgressLines::format(int64_t epoch, int64_t batch, int64_t total, double loss, double elapsed) {
  char buf[64];
  std::string line = "epoch " + std::to_string(epoch) + "  batch " + std::to_string(batch);
  if (total > 0) {
    std::snprintf(buf, sizeof buf, "/%lld (%.0f%%)", static_cast<long long>(total),
                  100.0 * static_cast<double>(batch) / static_cast<double>(total));
    line += buf;
  }
  std::snprintf(buf, sizeof buf, "  loss %.4g", loss);
  line += buf;
  line += "  " + format_duration(elapsed) + " elapsed";
  if (total > 0 && batch > 0 && batch < total && elapsed > 0)
    line += ", ~" + format_duration(elapsed / static_cast<double>(batch) * static_cast<double>(total - batch)) + " left";
  if (elapsed > 0) {
    std::snprintf(buf, sizeof buf, "  (%.1f batches/s)", static_cast<double>(batch) / elapsed);
    line += buf;
  }
  return line;
}

bool ProgressLines::update(int64_t epoch, int64_t batch, int64_t total, double loss, double elapsed) {
  if (epoch != epoch_) {
    epoch_ = epoch;
    last_ = 0.0;
  }
  if (!(every_ > 0) || elapsed - last_ < every_) return false;
  last_ = elapsed;
  out_ << format(epoch, batch, total, loss, elapsed) << "\n" << std::flush;
  return true;
}

}  // namespace xp::engine
