#include "engine/progress.h"

#include "xp/base/duration.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace xp::engine {

ProgressBar::ProgressBar(std::ostream& out, bool tty, std::string label, int64_t total)
    : out_(out), tty_(tty), label_(std::move(label)), total_(total), start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() { finish(); }

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressBar::update(int64_t done, double loss) {
  if (!tty_) return;
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100) && done < total_) return;
  last_draw_ = now;
  const double elapsed = elapsed_seconds();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : -1;
  constexpr int kWidth = 24;
  const int filled = total_ > 0 ? static_cast<int>(kWidth * std::min<int64_t>(done, total_) / total_) : 0;
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < kWidth) bar += '>' + std::string(static_cast<size_t>(kWidth - filled - 1), ' ');
  char buf[256];
  std::snprintf(buf, sizeof buf, "\r%s [%s] %lld/%lld  %.1f it/s  loss %.4f  ETA %s\033[K", label_.c_str(),
                bar.c_str(), static_cast<long long>(done), static_cast<long long>(total_), rate, loss,
                format_duration(eta, DurationStyle::Clock).c_str());
  out_ << buf << std::flush;
  drawn_ = true;
}

void ProgressBar::finish() {
  if (tty_ && drawn_) out_ << "\r\033[K" << std::flush;
  drawn_ = false;
}

}  // namespace xp::engine
