// Registry benchmark: fills a registry through the same RunRegistry API the engine uses, then
// times the queries behind `xp runs --where` and `xp report`.
//
//   generate DB [--runs N] [--epochs E] [--metrics M]   build the registry (default 10000 x 50 x 10)
//   generate DB --query                                 time the queries on an existing registry
//   generate DB --copy-from SRC                         fill DB (e.g. a postgresql:// URL) from SRC
//                                                       the way `xp registry copy` does, timed
//
// Prints the time per epoch write (one transaction with M metric rows plus their statistics),
// which is the cost the engine pays per epoch.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <random>
#include <string>

#include "registry_copy.h"
#include "run_registry.h"
#include "run_report.h"

using Clock = std::chrono::steady_clock;

static double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

static const char* kVariants[] = {"ce", "focal", "dice", "lovasz", "baseline"};
static const char* kMetricNames[] = {"train_loss", "val_loss", "val_acc", "val_iou", "val_f1", "lr",
                                     "val_precision", "val_recall", "val_auc", "epoch_time"};

int generate(const std::string& path, int runs, int epochs, int metrics) {
  std::remove(path.c_str());
  xp::RunRegistry reg(path);
  std::mt19937 gen(42);
  std::normal_distribution<double> noise(0.0, 0.01);
  // The first 20 runs write every epoch in its own transaction (the cost per epoch of a real run,
  // where epochs are seconds apart); the rest use the default 1 s batching to build the db fast.
  double write_s = 0, unbatched_s = 0;
  int64_t writes = 0, unbatched = 0;
  auto start = Clock::now();
  for (int r = 0; r < runs; ++r) {
    int v = r % 5;
    xp::RunInfo info;
    info.experiment = "bench";
    info.variant = kVariants[v];
    info.seed = r / 5;
    info.config_text = "[loss]\nname = \"" + info.variant + "\"\n";
    info.config_hash = "h" + std::to_string(r % 97);
    info.params = {{"loss.name", "\"" + info.variant + "\""},
                   {"loss.gamma", std::to_string(r % 4) + ".0"},
                   {"train.lr", r % 3 == 0 ? "0.1" : "0.01"},
                   {"train.epochs", std::to_string(epochs)},
                   {"train.batch_size", "64"},
                   {"model.name", "\"unet\""},
                   {"model.width", std::to_string(16 << (r % 3))},
                   {"data.root", "\"/data/seg\""},
                   {"augment.0.name", "\"flip\""},
                   {"sampler.name", "\"random\""}};
    info.git_commit = "0123456789abcdef0123456789abcdef01234567";
    info.command_line = "xp run bench.toml";
    std::string id = reg.begin(info);
    reg.set_flush_interval(r < 20 ? 0.0 : 1.0);
    double skill = 0.5 + 0.05 * v + noise(gen);
    for (int e = 0; e < epochs; ++e) {
      std::map<std::string, double> values;
      double progress = (e + 1.0) / epochs;
      for (int m = 0; m < metrics; ++m) {
        std::string name = m < 10 ? kMetricNames[m] : "metric_" + std::to_string(m);
        values[name] = m < 2 ? 1.0 - skill * progress + noise(gen) : skill * progress + noise(gen);
      }
      auto t = Clock::now();
      reg.log_metrics(id, e, (e + 1) * 100, values);
      (r < 20 ? unbatched_s : write_s) += seconds_since(t);
      ++(r < 20 ? unbatched : writes);
    }
    reg.set_summary(id, {{"best_val_iou", skill}, {"test_iou", skill - 0.01}, {"best_val_acc", skill + 0.1}});
    reg.finish(id, r % 20 == 7 ? xp::RunStatus::Failed : xp::RunStatus::Finished);
    if ((r + 1) % 1000 == 0) std::fprintf(stderr, "%d runs, %.0f s\n", r + 1, seconds_since(start));
  }
  std::printf("generated %d runs x %d epochs x %d metrics = %lld metric rows in %.1f s\n", runs, epochs, metrics,
              static_cast<long long>(runs) * epochs * metrics, seconds_since(start));
  std::printf("epoch write, own transaction (log_metrics of %d values): %.1f us mean over %lld epochs\n", metrics,
              1e6 * unbatched_s / std::max<int64_t>(unbatched, 1), static_cast<long long>(unbatched));
  std::printf("epoch write, batched (default 1 s flush): %.1f us mean over %lld epochs\n",
              1e6 * write_s / std::max<int64_t>(writes, 1), static_cast<long long>(writes));
  return 0;
}

template <typename F>
double best_of(int n, F f) {
  double best = 1e9;
  for (int i = 0; i < n; ++i) {
    auto t = Clock::now();
    f();
    best = std::min(best, seconds_since(t));
  }
  return best;
}

int query(const std::string& path) {
  xp::RunRegistry reg(path);
  size_t n = 0;
  auto where = [&](const std::string& expr, int64_t limit) {
    xp::RunQuery q;
    q.where = expr;
    q.limit = limit;
    double s = best_of(3, [&] { n = reg.list_runs(q).size(); });
    std::printf("runs --where \"%s\"%s: %zu runs in %.3f s\n", expr.c_str(),
                limit ? (" --limit " + std::to_string(limit)).c_str() : "", n, s);
  };
  where("variant = 'focal' and params.loss.gamma >= 2 and metrics.val_iou > 0.5", 0);
  where("variant = 'focal' and params.loss.gamma >= 2 and metrics.val_iou > 0.5", 20);
  where("metrics.best_val_iou > 0.7 or (status = 'failed' and seed < 100)", 0);
  where("seed >= 0", 0);
  {
    xp::RunQuery q;
    q.sort = "-metrics.best_val_iou";
    q.limit = 10;
    double s = best_of(3, [&] { n = reg.list_runs(q).size(); });
    std::printf("runs --sort -metrics.best_val_iou --limit 10: %.3f s\n", s);
  }
  for (const char* summary : {"best", "final"}) {
    xp::registry::ReportOptions opt;
    opt.experiment = "bench";
    opt.metrics = {"val_iou"};
    opt.summary = summary;
    size_t groups = 0;
    double s = best_of(3, [&] { groups = xp::registry::build_report(reg, opt).groups.size(); });
    std::printf("report bench --metric val_iou --summary %s: %zu groups in %.3f s\n", summary, groups, s);
  }
  {
    xp::registry::ReportOptions opt;
    opt.experiment = "bench";
    opt.metrics = {"val_iou"};
    opt.group_by = {"variant", "loss.gamma"};
    size_t groups = 0;
    double s = best_of(3, [&] { groups = xp::registry::build_report(reg, opt).groups.size(); });
    std::printf("report bench --metric val_iou --group-by variant --group-by loss.gamma: %zu groups in %.3f s\n",
                groups, s);
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: generate DB [--runs N] [--epochs E] [--metrics M] | generate DB --query\n";
    return 2;
  }
  std::string path = argv[1];
  int runs = 10000, epochs = 50, metrics = 10;
  bool do_query = false;
  std::string copy_from;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--query") do_query = true;
    else if (a == "--copy-from" && i + 1 < argc) copy_from = argv[++i];
    else if (a == "--runs" && i + 1 < argc) runs = std::stoi(argv[++i]);
    else if (a == "--epochs" && i + 1 < argc) epochs = std::stoi(argv[++i]);
    else if (a == "--metrics" && i + 1 < argc) metrics = std::stoi(argv[++i]);
    else {
      std::cerr << "unknown argument " << a << "\n";
      return 2;
    }
  }
  try {
    if (!copy_from.empty()) {
      auto start = Clock::now();
      auto r = xp::registry::copy_registry(copy_from, path, {});
      double s = seconds_since(start);
      std::printf("copied %lld runs, %lld rows in %.1f s (%.0f rows/s)\n", (long long)r.runs_copied,
                  (long long)r.rows, s, r.rows / s);
      return 0;
    }
    return do_query ? query(path) : generate(path, runs, epochs, metrics);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
