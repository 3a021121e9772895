// Registry write throughput with concurrent writer processes: each writer records runs through
// RunRegistry (the engine's path), one transaction per epoch of M metric rows, as `xp run` does
// when epochs are more than a second apart. Prints metric rows/s over all writers.
//
//   writers LOCATION [--writers 1,8,32] [--seconds S] [--metrics M]
//   LOCATION: a SQLite file (recreated) or a postgresql:// URL of a database (tables reused)
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "run_registry.h"
#include "sql_db.h"

using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: writers LOCATION [--writers 1,8,32] [--seconds S] [--metrics M]\n");
    return 2;
  }
  std::string location = argv[1], writers_list = "1,8,32";
  double seconds = 5;
  int metrics = 10;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--writers")) writers_list = argv[i + 1];
    else if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--metrics")) metrics = std::atoi(argv[i + 1]);
  }
  if (!xp::sql::is_postgres_url(location)) std::remove(location.c_str());
  { xp::RunRegistry create(location); }  // the schema exists before the clock starts
  std::istringstream list(writers_list);
  for (std::string item; std::getline(list, item, ',');) {
    const int n = std::stoi(item);
    int pipes[2];
    if (pipe(pipes) != 0) return 1;
    std::vector<pid_t> children;
    for (int w = 0; w < n; ++w) {
      pid_t pid = fork();
      if (pid == 0) {
        close(pipes[0]);
        long long rows = 0;
        try {
          xp::RunRegistry reg(location);
          reg.set_flush_interval(0);
          const auto end = Clock::now() + std::chrono::duration<double>(seconds);
          while (Clock::now() < end) {
            xp::RunInfo info;
            info.experiment = "writers";
            info.variant = "w" + std::to_string(w);
            std::string id = reg.begin(info);
            for (int e = 0; e < 50 && Clock::now() < end; ++e) {
              std::map<std::string, double> values;
              for (int m = 0; m < metrics; ++m) values["m" + std::to_string(m)] = e * 0.01 + m;
              reg.log_metrics(id, e, e, values);
              rows += metrics;
            }
            reg.finish(id, xp::RunStatus::Finished);
          }
        } catch (const std::exception& ex) {
          std::fprintf(stderr, "writer %d: %s\n", w, ex.what());
          _exit(1);
        }
        if (write(pipes[1], &rows, sizeof rows) != sizeof rows) _exit(1);
        _exit(0);
      }
      children.push_back(pid);
    }
    close(pipes[1]);
    long long total = 0, rows = 0;
    while (read(pipes[0], &rows, sizeof rows) == sizeof rows) total += rows;
    close(pipes[0]);
    int failed = 0;
    for (pid_t c : children) {
      int status = 0;
      waitpid(c, &status, 0);
      failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    std::printf("%-10s %2d writer(s): %9.0f metric rows/s (%lld rows in %.0f s)%s\n",
                xp::sql::is_postgres_url(location) ? "postgresql" : "sqlite", n, total / seconds, total, seconds,
                failed ? "  SOME WRITERS FAILED" : "");
    std::fflush(stdout);
  }
  return 0;
}
