#pragma once
// The one duration formatter: the live progress line counts like a clock ("1:02:03"), tables and
// summaries read as words ("1m02s"). Not-a-number or unknown prints as a placeholder.
#include <optional>
#include <string>

namespace xp {

enum class DurationStyle {
  Clock,    // m:ss, h:mm:ss; "?" when unknown or absurd (an ETA before the rate is known)
  Compact,  // 12.3s, 4m05s, 2h07m; "-" when unknown (a run that never started)
};

std::string format_duration(std::optional<double> seconds, DurationStyle style = DurationStyle::Compact);

}  // namespace xp
