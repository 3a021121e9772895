#include <sstream>

#include <doctest/doctest.h>

#include "engine/progress_lines.h"

using xp::engine::ProgressLines;

TEST_CASE("progress lines: one line per interval, afresh each epoch") {
  std::ostringstream out;
  ProgressLines lines(out, 10.0);
  CHECK_FALSE(lines.update(1, 1, 100, 0.9, 0.5));
  CHECK_FALSE(lines.update(1, 20, 100, 0.8, 9.9));
  CHECK(lines.update(1, 21, 100, 0.7, 10.0));
  CHECK_FALSE(lines.update(1, 30, 100, 0.7, 19.0));  // 9 s after the last line
  CHECK(lines.update(1, 45, 100, 0.6, 20.5));
  CHECK_FALSE(lines.update(2, 1, 100, 0.5, 1.0));  // a new epoch: its own interval
  CHECK(lines.update(2, 50, 100, 0.5, 12.0));
  std::istringstream text(out.str());
  std::string line;
  int n = 0;
  while (std::getline(text, line)) ++n;
  CHECK(n == 3);
  CHECK(out.str().find("epoch 2  batch 50/100 (50%)") != std::string::npos);
}

TEST_CASE("progress lines: the line says where the epoch stands") {
  const std::string line = ProgressLines::format(3, 1200, 5000, 0.43125, 65.0);
  CHECK(line.find("epoch 3  batch 1200/5000 (24%)") == 0);
  CHECK(line.find("loss 0.4313") != std::string::npos);
  CHECK(line.find("1m05s elapsed") != std::string::npos);
  CHECK(line.find("~3m25s left") != std::string::npos);  // 3800 batches at 65/1200 s each = 205.8 s (whole seconds)
  CHECK(line.find("18.5 batches/s") != std::string::npos);
  // An unknown total: no percentage and no estimate.
  const std::string open = ProgressLines::format(1, 7, 0, 1.0, 2.0);
  CHECK(open.find("batch 7  loss") != std::string::npos);
  CHECK(open.find("left") == std::string::npos);
}
