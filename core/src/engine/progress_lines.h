#pragma once
// Progress within an epoch when stdout is not a terminal (a pipe, `tee`, a Slurm log): the live
// bar (progress.h) draws nothing there, so a long epoch would be silent for minutes. Every
// `every_seconds` this prints one plain line instead, e.g.
//   epoch 3  batch 1200/5000 (24%)  loss 0.4312  1m05s elapsed, ~3m26s left  (18.5 batches/s)
// Time comes in as an argument (seconds since the epoch began), so the class reads no clock and
// its behaviour is exact in tests.

#include <cstdint>
#include <ostream>
#include <string>

namespace xp::engine {

class ProgressLines {
 public:
  explicit ProgressLines(std::ostream& out, double every_seconds = 30.0);

  // Call after every training batch: `epoch` 1-based, `batch` done so far (1-based) out of
  // `total` (<= 0 when unknown), the batch's loss and the seconds since the epoch began. Prints
  // a line when `every_seconds` have passed since the epoch began or the last line; a new epoch
  // starts the interval afresh. Returns whether it printed.
  bool update(int64_t epoch, int64_t batch, int64_t total, double loss, double elapsed_seconds);

  // The line update() prints, without the newline (exposed for tests).
  static std::string format(int64_t epoch, int64_t batch, int64_t total, double loss, double elapsed_seconds);

 private:
  std::ostream& out_;
  double every_;
  int64_t epoch_ = -1;
  double last_ = 0.0;
};

}  // namespace xp::engine
