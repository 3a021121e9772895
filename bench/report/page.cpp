// The study page's cost in-process, phase by phase (the code `xp report EXP --html` runs, without
// the process start and the text report): build_report, the page's data model, the HTML, the file.
//   page DB EXPERIMENT OUT.html [--metric M ...] [--baseline B]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "html_page.h"
#include "run_registry.h"
#include "run_report.h"
#include "study_page.h"

using Clock = std::chrono::steady_clock;

static double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: page DB EXPERIMENT OUT.html [--metric M ...] [--baseline B]\n");
    return 2;
  }
  xp::registry::ReportOptions opt;
  opt.experiment = argv[2];
  for (int i = 4; i + 1 < argc; i += 2)
    if (std::string(argv[i]) == "--metric") opt.metrics.push_back(argv[i + 1]);
    else if (std::string(argv[i]) == "--baseline") opt.baseline = argv[i + 1];
  auto t0 = Clock::now();
  xp::RunRegistry registry(argv[1]);
  auto report = xp::registry::build_report(registry, opt);
  const double t_report = since(t0);
  auto t1 = Clock::now();
  auto data = xp::report::study_page_data(registry, report, opt);
  const double t_data = since(t1);
  auto t2 = Clock::now();
  auto html = xp::report::render_study_page(data);
  const double t_html = since(t2);
  auto t3 = Clock::now();
  xp::report::write_page(argv[3], html);
  const double t_write = since(t3);
  size_t runs = 0;
  for (const auto& g : report.groups) runs += g.run_ids.size();
  std::printf("%zu runs in %zu groups, %zu metrics: report %.3f s, page data %.3f s, html %.3f s, write %.3f s, "
              "total %.3f s; page %.2f MB\n",
              runs, report.groups.size(), report.metrics.size(), t_report, t_data, t_html, t_write, since(t0),
              std::filesystem::file_size(argv[3]) / 1e6);
  return 0;
}
