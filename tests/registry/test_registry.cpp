// The SQLite run registry: recording through xp::RunRecorder, lookups, crash detection,
// concurrent writer processes and threads, and schema migration.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "registry_schema.h"
#include "pg_test_server.h"
#include "sqlite_db.h"
#include "test_registry_support.h"
#include "xp/base/sha256.h"
#include "xp/errors.h"

using namespace xp;
namespace fs = std::filesystem;

namespace {

int64_t count(sql::Database& db, const std::string& sql) {
  auto st = db.prepare(sql);
  REQUIRE(st.step());
  return st.int64(0);
}

}  // namespace

TEST_CASE("registry: a run recorded through RunRecorder reads back completely") {
  registry_test::ScratchDir dir;
  XP_EACH_REGISTRY_BACKEND(location, dir.path / "runs" / "registry.db");
  RunRegistry reg(location);
  RunRecorder& recorder = reg;

  RunInfo info = registry_test::run_info("plant", "focal", 7, {{"loss.gamma", "2.0"}, {"model.name", "\"resnet\""}});
  info.tags = {{"sweep", "s1"}};
  info.git_dirty = true;
  info.git_diff = "--- a\n+++ b\n";
  info.cuda_version = "";
  std::string id = recorder.begin(info);
  CHECK(id.size() == 15);
  CHECK(id[0] == 'r');

  for (int e = 0; e < 4; ++e)
    recorder.log_metrics(id, e, (e + 1) * 100, {{"train_loss", 1.0 - 0.2 * e}, {"val_top1", 0.5 + 0.1 * (e % 3)}});
  recorder.set_summary(id, {{"best_val_top1", 0.7}});
  recorder.set_summary(id, {{"test_top1", 0.68}, {"best_val_top1", 0.71}});  // replaces the earlier value
  fs::create_directories(dir.path / "out");
  std::ofstream(dir.path / "out" / "best.pt") << "weights";
  recorder.add_artifact(id, (dir.path / "out" / "best.pt").string(), "checkpoint");
  recorder.add_artifact(id, (dir.path / "out" / "missing.pt").string(), "checkpoint");
  recorder.set_tag(id, "trial", "3");
  recorder.heartbeat(id);
  recorder.finish(id, RunStatus::Finished);

  RunRecord r = reg.find_run(id);
  CHECK(r.status == RunStatus::Finished);
  CHECK(r.info.experiment == "plant");
  CHECK(r.info.variant == "focal");
  CHECK(r.info.seed == 7);
  CHECK(r.info.git_dirty);
  CHECK(r.info.git_diff == info.git_diff);
  CHECK(r.info.host == current_host());
  CHECK(r.info.pid == ::getpid());
  CHECK(r.info.params.at("loss.gamma") == "2.0");
  CHECK(r.info.params.at("model.name") == "resnet");
  CHECK(r.info.tags.at("sweep") == "s1");
  CHECK(r.info.tags.at("trial") == "3");
  // Beside a SQLite file; under ./xp-runs ($XP_RUN_ROOT) for a server.
  const fs::path run_root = sql::is_postgres_url(location) ? fs::absolute("xp-runs") : fs::absolute(dir.path) / "runs";
  CHECK(r.info.run_dir == (run_root / "plant" / id).lexically_normal().string());
  REQUIRE(r.duration);
  CHECK(*r.duration >= 0);
  CHECK(r.summary.at("best_val_top1") == 0.71);
  CHECK(r.summary_order == std::vector<std::string>{"best_val_top1", "test_top1"});
  CHECK(r.finals.at("val_top1") == doctest::Approx(0.5));  // epoch 3: 0.5 + 0.1 * 0
  CHECK(r.metrics().at("test_top1") == 0.68);

  auto history = reg.metric_history(id);
  CHECK(history.size() == 8);
  auto stats = reg.metric_stats(id);
  REQUIRE(stats.size() == 2);
  CHECK(stats[1].name == "val_top1");
  CHECK(stats[1].max == doctest::Approx(0.7));
  CHECK(stats[1].min == doctest::Approx(0.5));
  CHECK(stats[1].last_epoch == 3);

  auto arts = reg.artifacts(id);
  REQUIRE(arts.size() == 2);
  for (const auto& a : arts) {
    if (a.path.find("best.pt") != std::string::npos) {
      CHECK(a.size == 7);
      CHECK(a.sha256 == sha256_hex("weights"));
    } else {
      CHECK(a.size == -1);
    }
  }
}

TEST_CASE("registry: runs are found by id, unique prefix and run folder") {
  registry_test::ScratchDir dir;
  XP_EACH_REGISTRY_BACKEND(location, dir.path / "registry.db");
  RunRegistry reg(location);
  RunInfo info = registry_test::run_info("exp", "", 0);
  info.run_dir = (dir.path / "custom" / "{id}").string();
  std::string a = reg.begin(info);
  std::string b = reg.begin(registry_test::run_info("exp", "", 1));
  CHECK(reg.find_run(a).id == a);
  size_t differ = std::mismatch(a.begin(), a.end(), b.begin()).first - a.begin();
  CHECK(reg.find_run(a.substr(0, differ + 1)).id == a);  // shortest unique prefix
  CHECK_THROWS_WITH_AS(reg.find_run(a.substr(0, differ)), doctest::Contains("ambiguous"), ConfigError);
  RunRecord by_dir = reg.find_run((dir.path / "custom" / a).string());
  CHECK(by_dir.id == a);
  CHECK(by_dir.info.run_dir.find("/custom/" + a) != std::string::npos);
  CHECK(reg.find_run((dir.path / "custom" / a / "checkpoints" / "last.pt").string()).id == a);  // inside it
  CHECK(find_run(location, b).id == b);
  CHECK_THROWS_AS(reg.find_run("r"), ConfigError);  // ambiguous
  try {
    reg.find_run(a.substr(0, 14) + "#");
    FAIL("expected an error");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()).find("did you mean") != std::string::npos);
    CHECK(std::string(e.what()).find("'" + a + "'") != std::string::npos);
  }
  CHECK_THROWS_AS(find_run(dir.path / "none.db", a), ConfigError);
}

TEST_CASE("registry: run ids are unique and sort by start time") {
  std::set<std::string> ids;
  std::string previous;
  for (int i = 0; i < 2000; ++i) {
    std::string id = new_run_id();
    CHECK(id.size() == 15);
    CHECK(id.substr(0, 9) >= previous.substr(0, std::min<size_t>(previous.size(), 9)));
    previous = id;
    ids.insert(id);
  }
  CHECK(ids.size() == 2000);
}

TEST_CASE("registry: a stale heartbeat or a dead process marks a running run crashed") {
  registry_test::ScratchDir dir;
  XP_EACH_REGISTRY_BACKEND(location, dir.path / "registry.db");
  RunRegistry reg(location);
  std::string alive = reg.begin(registry_test::run_info("exp", "a", 0));  // this process, fresh heartbeat
  std::string stale = reg.begin(registry_test::run_info("exp", "b", 0));
  // Another host: only the heartbeat can tell.
  RunInfo remote = registry_test::run_info("exp", "c", 0);
  remote.host = "elsewhere";
  remote.pid = 1;
  std::string remote_fresh = reg.begin(remote);
  std::string remote_stale = reg.begin(remote);
  reg.database().exec("UPDATE runs SET heartbeat = heartbeat - 500 WHERE id IN ('" + stale + "', '" + remote_stale + "')");

  // A process that has exited on this host.
  pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  RunInfo dead_info = registry_test::run_info("exp", "d", 0);
  dead_info.pid = child;
  std::string dead = reg.begin(dead_info);

  auto marked = reg.mark_stale_runs_crashed(120);
  std::sort(marked.begin(), marked.end());
  std::vector<std::string> expected = {stale, remote_stale, dead};
  std::sort(expected.begin(), expected.end());
  CHECK(marked == expected);
  CHECK(reg.find_run(alive).status == RunStatus::Running);
  CHECK(reg.find_run(remote_fresh).status == RunStatus::Running);
  RunRecord d = reg.find_run(dead);
  CHECK(d.status == RunStatus::Crashed);
  CHECK(d.message.find("process " + std::to_string(child)) != std::string::npos);
  RunRecord s = reg.find_run(stale);
  CHECK(s.status == RunStatus::Crashed);
  CHECK(s.message.find("no heartbeat for") != std::string::npos);
  REQUIRE(s.end_time);
  CHECK(*s.end_time < unix_now() - 400);  // ended at its last sign of life
  CHECK(reg.mark_stale_runs_crashed(120).empty());  // idempotent
  // A resumed run is running again.
  reg.resume(dead);
  CHECK(reg.find_run(dead).status == RunStatus::Running);
}

TEST_CASE("registry: resume replaces the abandoned epochs of the earlier attempt") {
  registry_test::ScratchDir dir;
  XP_EACH_REGISTRY_BACKEND(location, dir.path / "registry.db");
  RunRegistry reg(location);
  std::string id = reg.begin(registry_test::run_info("exp", "", 0));
  for (int e = 1; e <= 5; ++e) reg.log_metrics(id, e, e, {{"val_acc", 0.1 * e}});
  reg.finish(id, RunStatus::Interrupted);
  reg.resume(id);  // the checkpoint was written after epoch 3
  reg.log_metrics(id, 4, 4, {{"val_acc", 0.9}});
  reg.finish(id, RunStatus::Finished);
  auto history = reg.metric_history(id);
  REQUIRE(history.size() == 4);
  CHECK(history.back().epoch == 4);
  CHECK(history.back().value == 0.9);
  auto stats = reg.metric_stats(id);
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].final == 0.9);
  CHECK(stats[0].last_epoch == 4);
  CHECK(stats[0].n == 4);
}

TEST_CASE("registry: NaN metrics of a diverged run are stored as missing") {
  registry_test::ScratchDir dir;
  XP_EACH_REGISTRY_BACKEND(location, dir.path / "registry.db");
  RunRegistry reg(location);
  std::string id = reg.begin(registry_test::run_info("exp", "", 0));
  reg.log_metrics(id, 1, 1, {{"train_loss", 2.0}});
  reg.log_metrics(id, 2, 2, {{"train_loss", std::nan("")}});
  reg.finish(id, RunStatus::Diverged, "loss is nan at step 2");
  RunRecord r = reg.find_run(id);
  CHECK(r.status == RunStatus::Diverged);
  CHECK(r.message == "loss is nan at step 2");
  CHECK(std::isnan(r.finals.at("train_loss")));
  CHECK(reg.metric_stats(id)[0].min == 2.0);
}

TEST_CASE("registry: 32 writer processes at once lose nothing and never fail") {
  registry_test::ScratchDir dir;
  XP_EACH_REGISTRY_BACKEND(location, dir.path / "registry.db");
  const fs::path db = location;
  // No `create` first: 32 processes meet an empty database and race to create the schema.
  constexpr int kProcesses = 32, kRuns = 3, kEpochs = 10;
  int start[2];  // the writers start together: each blocks on a pipe until the parent closes it
  REQUIRE(::pipe(start) == 0);
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    pid_t pid = fork();
    if (pid == 0) {
      ::close(start[1]);
      char c;
      while (::read(start[0], &c, 1) > 0) {
      }
      int code = 0;
      try {
        RunRegistry reg(db);
        reg.set_flush_interval(0);  // one transaction per epoch: the most lock traffic
        for (int r = 0; r < kRuns; ++r) {
          std::string id = reg.begin(registry_test::run_info("concurrent", "p" + std::to_string(p), r));
          for (int e = 0; e < kEpochs; ++e) {
            reg.log_metrics(id, e, e, {{"a", e * 1.0}, {"b", p * 1.0}, {"c", r * 1.0}});
            reg.heartbeat(id);
          }
          reg.set_summary(id, {{"best_a", kEpochs - 1.0}});
          reg.set_tag(id, "process", std::to_string(p));
          reg.finish(id, RunStatus::Finished);
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "writer %d: %s\n", p, e.what());
        code = 1;
      }
      _exit(code);
    }
    children.push_back(pid);
  }
  ::close(start[0]);
  ::close(start[1]);
  for (pid_t c : children) {
    int status = 0;
    waitpid(c, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  sql::Database check(db.string());
  CHECK(count(check, "SELECT COUNT(*) FROM runs") == kProcesses * kRuns);
  CHECK(count(check, "SELECT COUNT(*) FROM runs WHERE status = 'finished'") == kProcesses * kRuns);
  CHECK(count(check, "SELECT COUNT(*) FROM metrics") == kProcesses * kRuns * kEpochs * 3);
  CHECK(count(check, "SELECT COUNT(*) FROM metric_stats WHERE n = " + std::to_string(kEpochs)) ==
        kProcesses * kRuns * 3);
  CHECK(count(check, "SELECT COUNT(*) FROM summary") == kProcesses * kRuns);
  CHECK(count(check, "SELECT COUNT(*) FROM tags") == kProcesses * kRuns);
}

// What the engine does during a run: its heartbeat thread writes through the same RunRegistry (one
// connection) while the training thread logs metrics, tags and artifacts. Every write lands, the
// two threads never fail each other's transactions; under ThreadSanitizer (scripts/test-tsan) the
// registry's locking is checked for data races too.
TEST_CASE("registry: a heartbeat thread beside the run's own writes on one connection loses nothing") {
  registry_test::ScratchDir dir;
  XP_EACH_REGISTRY_BACKEND(location, dir.path / "registry.db");
  RunRegistry reg(location);
  reg.set_flush_interval(0.001);  // flushes interleave with the heartbeats
  constexpr int kRuns = 2, kEpochs = 40;
  std::vector<std::string> ids;
  for (int r = 0; r < kRuns; ++r) ids.push_back(reg.begin(registry_test::run_info("threads", "v", r)));
  std::atomic<bool> done{false};
  std::atomic<int> beats{0};
  std::string beat_error;
  std::atomic<bool> beat_failed{false};
  std::thread heart([&] {
    try {
      while (!done.load()) {
        for (const auto& id : ids) reg.heartbeat(id);
        beats.fetch_add(1);
      }
    } catch (const std::exception& e) {
      beat_error = e.what();
      beat_failed = true;
    }
  });
  // The writes start once the heart has beaten (else a fast machine could finish them before the
  // thread is first scheduled: CI saw 0 beats once); it keeps beating through them.
  while (beats.load() == 0 && !beat_failed.load()) std::this_thread::yield();
  for (int e = 0; e < kEpochs; ++e)
    for (int r = 0; r < kRuns; ++r) {
      reg.log_metrics(ids[r], e, e, {{"loss", 1.0 / (e + 1)}, {"acc", e * 0.01}});
      if (e % 10 == 0) reg.set_tag(ids[r], "epoch", std::to_string(e));
      if (e % 20 == 0) reg.add_artifact(ids[r], "ckpt_" + std::to_string(e) + ".pt", "checkpoint");
    }
  for (const auto& id : ids) reg.finish(id, RunStatus::Finished);
  done = true;
  heart.join();
  CHECK(beat_error.empty());
  CHECK(beats.load() > 0);
  for (const auto& id : ids) {
    RunRecord run = reg.find_run(id);
    CHECK(run.status == RunStatus::Finished);
    CHECK(reg.metric_history(id).size() == 2 * kEpochs);
    CHECK(reg.artifacts(id).size() == 2);
    CHECK(run.info.tags.at("epoch") == "30");
    REQUIRE(run.heartbeat);
  }
}

namespace {

std::vector<std::string> table_layout(sql::Database& db) {
  std::vector<std::string> out;
  auto tables = db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE "
                           "'sqlite_%' ORDER BY name");
  while (tables.step()) {
    std::string name = tables.text(0);
    out.push_back("object " + name);
    auto cols = db.prepare("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1)");
    cols.bind(1, name);
    while (cols.step())
      out.push_back(name + "." + cols.text(0) + " " + cols.text(1) + " " + cols.text(2) + " " + cols.text(3));
  }
  return out;
}

}  // namespace

TEST_CASE("registry: a version 1 registry migrates to the current schema and keeps its data") {
  registry_test::ScratchDir dir;
  fs::path path = dir.path / "old.db";
  {
    std::ifstream in(fs::path(XP_SOURCE_DIR) / "registry" / "testdata" / "registry_v1.sql");
    REQUIRE(in);
    std::stringstream ss;
    ss << in.rdbuf();
    sql::Database old(path.string());
    old.exec(ss.str());
    CHECK(registry::schema_version(old) == 1);
  }
  RunRegistry reg(path);  // migrates
  CHECK(registry::schema_version(reg.database()) == registry::kSchemaVersion);

  registry_test::ScratchDir fresh_dir;
  RunRegistry fresh(fresh_dir.path / "new.db");
  CHECK(table_layout(reg.database()) == table_layout(fresh.database()));

  RunRecord r = reg.find_run("r0old0001abcd");
  CHECK(r.status == RunStatus::Finished);
  CHECK(r.info.params.at("loss.gamma") == "2.0");
  REQUIRE(r.duration);
  CHECK(*r.duration == doctest::Approx(120.0));
  CHECK(r.summary.at("best_val_acc") == 0.9);
  CHECK(r.finals.at("val_acc") == 0.9);  // statistics were backfilled
  auto stats = reg.metric_stats(r.id);
  REQUIRE(stats.size() == 2);
  CHECK(stats[1].max == 0.9);
  RunQuery q;
  q.where = "params.loss.gamma >= 2 and metrics.val_acc > 0.5";  // numeric params were backfilled
  CHECK(reg.list_runs(q).size() == 1);
  // The migrated registry accepts new runs.
  registry_test::record_run(reg, "old_exp", "new", 1, 0.95);
  CHECK(reg.list_runs({}).size() == 3);
}

TEST_CASE("registry: a newer schema or a foreign database is refused") {
  registry_test::ScratchDir dir;
  {
    sql::Database db((dir.path / "future.db").string());
    db.exec("CREATE TABLE schema_version(version INTEGER); INSERT INTO schema_version VALUES (99);");
  }
  CHECK_THROWS_WITH_AS(RunRegistry(dir.path / "future.db"), doctest::Contains("newer than this xp"), std::runtime_error);
  {
    sql::Database db((dir.path / "foreign.db").string());
    db.exec("CREATE TABLE runs(x);");
  }
  CHECK_THROWS_WITH_AS(RunRegistry(dir.path / "foreign.db"), doctest::Contains("not an xp registry"), std::runtime_error);
}

TEST_CASE("registry: default path honours XP_REGISTRY") {
  const char* old = std::getenv("XP_REGISTRY");
  std::string saved = old ? old : "";
  setenv("XP_REGISTRY", "/tmp/somewhere/reg.db", 1);
  CHECK(default_registry_path() == fs::path("/tmp/somewhere/reg.db"));
  unsetenv("XP_REGISTRY");
  CHECK(default_registry_path() == fs::path("xp-runs/registry.db"));
  if (old) setenv("XP_REGISTRY", saved.c_str(), 1);
}
