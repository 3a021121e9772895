#pragma once
// The run's text lines: each goes to the console stream and to the run folder's train.log.
// Shared by the loop, the evaluator and the callbacks so that every line lands in both places.

#include <ostream>
#include <string>

#include "data/data_loader.h"
#include "engine/run_files.h"

namespace xp::engine {

class RunLog {
 public:
  RunLog(std::ostream& out, RunFiles& files, bool tty) : out_(out), files_(files), tty_(tty) {}
  void line(const std::string& text) {
    out_ << text << "\n" << std::flush;
    files_.log(text);
  }
  // To train.log only: diagnostics the console would only be cluttered by (per-epoch loader detail).
  void detail(const std::string& text) { files_.log(text); }
  // Samples the loader could not read in `split` during (0-based) `epoch`: one line each, and the
  // run's skipped-samples report. Returns how many.
  int64_t skipped(const std::string& split, int64_t epoch, const std::vector<data::SkippedSample>& samples) {
    for (const auto& k : samples) {
      line("skipped " + split + " sample " + std::to_string(k.index) + " (" + k.reason + ")");
      files_.add_skipped(split, epoch + 1, k.index, k.source, k.reason);
    }
    return static_cast<int64_t>(samples.size());
  }
  std::ostream& out() { return out_; }
  bool tty() const { return tty_; }
  RunFiles& files() { return files_; }

 private:
  std::ostream& out_;
  RunFiles& files_;
  bool tty_;
};

}  // namespace xp::engine
