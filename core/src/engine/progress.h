#pragma once
// The live progress line of an epoch: step/total, it/s, loss and ETA, redrawn in place on a TTY
// (at most ten times a second); nothing on a pipe or file, where only epoch summaries are printed.

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace xp::engine {

class ProgressBar {
 public:
  ProgressBar(std::ostream& out, bool tty, std::string label, int64_t total);
  ~ProgressBar();
  void update(int64_t done, double loss);
  void finish();  // erases the line
  double elapsed_seconds() const;

 private:
  std::ostream& out_;
  bool tty_;
  std::string label_;
  int64_t total_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};


}  // namespace xp::engine
