#include "xp/base/duration.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>

namespace xp {

std::string format_duration(std::optional<double> seconds, DurationStyle style) {
  char buf[48];
  if (style == DurationStyle::Clock) {
    if (!seconds || !(*seconds >= 0) || *seconds > 1e7) return "?";
    const auto s = static_cast<long long>(*seconds + 0.5);
    if (s >= 3600) std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
    else std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
    return buf;
  }
  if (!seconds || std::isnan(*seconds)) return "-";
  const double s = std::max(0.0, *seconds);
  if (s < 60) std::snprintf(buf, sizeof buf, "%.1fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, (int(s) % 3600) / 60);
  return buf;
}

}  // namespace xp
