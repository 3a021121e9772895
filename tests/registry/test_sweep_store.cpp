// The sweep store on both registry backends (a SQLite file and a throwaway PostgreSQL server):
// exclusive claims across processes, budgets, leases that expire into retries and then into
// crashed trials, and the trial lifecycle.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "pg_test_server.h"
#include "sql_sweep_store.h"

using namespace xp::sweeps;
namespace fs = std::filesystem;

namespace {

struct TempDb {
  fs::path dir;
  TempDb() {
    dir = fs::temp_directory_path() / ("xp_sweep_store_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempDb() { fs::remove_all(dir); }
  fs::path db() const { return dir / "registry.db"; }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

Proposer counting_proposer() {
  return [](const std::vector<TrialRecord>&, int64_t number) -> std::optional<ParamSet> {
    return ParamSet{{"x", xp::Value(number * 10)}, {"name", xp::Value("t" + std::to_string(number))}};
  };
}

SweepRecord sweep_record(std::optional<int64_t> max_trials) {
  SweepRecord r;
  r.config_path = "s.toml";
  r.config_text = "[sweep]";
  r.experiment = "e.toml";
  r.method = "random";
  r.metric = "val_loss";
  r.max_trials = max_trials;
  r.max_retries = 1;
  r.lease_seconds = 10;
  return r;
}

}  // namespace

TEST_CASE("sweep store: a trial's lifecycle, params and values round-trip") {
  TempDb tmp;
  XP_EACH_REGISTRY_BACKEND(location, tmp.db());
  SqlSweepStore store(location);
  auto id = store.create_sweep(sweep_record(3));
  CHECK(id.rfind("sw-", 0) == 0);
  REQUIRE(store.find_sweep(id));
  CHECK(store.find_sweep(id)->metric == "val_loss");
  CHECK_FALSE(store.find_sweep("sw-nope"));

  auto t0 = store.claim_trial(id, "w1", counting_proposer());
  REQUIRE(t0);
  CHECK(t0->number == 0);
  CHECK(t0->state == TrialState::Running);
  CHECK(t0->attempts == 1);
  CHECK(t0->params.at("x") == xp::Value(int64_t{0}));
  CHECK(t0->params.at("name") == xp::Value("t0"));
  store.report_intermediate(id, 0, 1, 0.5);
  store.report_intermediate(id, 0, 2, 0.25);
  store.report_intermediate(id, 0, 2, 0.3);  // an epoch reported again replaces its value
  store.set_trial_runs(id, 0, {"r1", "r2"});
  CHECK_FALSE(store.complete_trial(id, 0, "someone-else", 1.0));  // not the owner
  CHECK(store.complete_trial(id, 0, "w1", 0.3));
  CHECK_FALSE(store.complete_trial(id, 0, "w1", 0.1));  // already finished

  auto t1 = store.claim_trial(id, "w1", counting_proposer());
  auto t2 = store.claim_trial(id, "w2", counting_proposer());
  REQUIRE(t1);
  REQUIRE(t2);
  CHECK(store.prune_trial(id, 1, "w1", 3));
  CHECK(store.fail_trial(id, 2, "w2", "diverged"));
  CHECK_FALSE(store.claim_trial(id, "w1", counting_proposer()));  // budget of 3 trials spent

  auto all = store.trials(id);
  REQUIRE(all.size() == 3);
  CHECK(all[0].state == TrialState::Complete);
  CHECK(all[0].value == doctest::Approx(0.3));
  CHECK(all[0].intermediate == std::map<int64_t, double>{{1, 0.5}, {2, 0.3}});
  CHECK(all[0].run_ids == std::vector<std::string>{"r1", "r2"});
  CHECK(all[1].state == TrialState::Pruned);
  CHECK(all[1].pruned_epoch == 3);
  CHECK(all[2].state == TrialState::Failed);
  CHECK(all[2].message == "diverged");
}

TEST_CASE("sweep store: a proposer that runs dry and a passed deadline stop new trials") {
  TempDb tmp;
  XP_EACH_REGISTRY_BACKEND(location, tmp.db());
  double now = 1000;
  SqlSweepStore store(location, [&] { return now; });
  auto id = store.create_sweep(sweep_record(std::nullopt));
  auto two = [](const std::vector<TrialRecord>&, int64_t n) -> std::optional<ParamSet> {
    if (n >= 2) return std::nullopt;
    return ParamSet{{"x", xp::Value(n)}};
  };
  CHECK(store.claim_trial(id, "w", two));
  CHECK(store.claim_trial(id, "w", two));
  CHECK_FALSE(store.claim_trial(id, "w", two));

  auto id2 = store.create_sweep(sweep_record(std::nullopt));
  store.set_deadline(id2, 1005.0);
  CHECK(store.claim_trial(id2, "w", counting_proposer()));
  now = 1006;
  CHECK_FALSE(store.claim_trial(id2, "w", counting_proposer()));
  store.set_sweep_state(id2, SweepState::Finished);
  store.set_deadline(id2, std::nullopt);
  CHECK_FALSE(store.claim_trial(id2, "w", counting_proposer()));  // a finished sweep hands out nothing
}

TEST_CASE("sweep store: an expired lease is retried, then marked crashed after max_retries") {
  TempDb tmp;
  XP_EACH_REGISTRY_BACKEND(location, tmp.db());
  double now = 0;
  SqlSweepStore store(location, [&] { return now; });
  auto id = store.create_sweep(sweep_record(1));  // lease 10 s, max_retries 1
  auto first = store.claim_trial(id, "dead-worker", counting_proposer());
  REQUIRE(first);
  store.report_intermediate(id, 0, 1, 0.9);
  now = 5;
  CHECK(store.renew_lease(id, 0, "dead-worker"));  // lease now until 15
  now = 14;
  CHECK(store.expire_leases(id) == 0);
  now = 16;
  // The budget of 1 trial is spent, but the orphaned trial is retried with the same params.
  auto retry = store.claim_trial(id, "w2", counting_proposer());
  REQUIRE(retry);
  CHECK(retry->number == 0);
  CHECK(retry->attempts == 2);
  CHECK((retry->params == first->params));  // (( )): glog's map printer breaks doctest's decomposition
  CHECK(retry->intermediate.empty());  // the lost attempt's epochs are gone
  CHECK_FALSE(store.renew_lease(id, 0, "dead-worker"));  // the old owner lost it
  CHECK_FALSE(store.complete_trial(id, 0, "dead-worker", 1.0));
  now = 30;
  CHECK(store.expire_leases(id) == 1);
  auto all = store.trials(id);
  CHECK(all[0].state == TrialState::Crashed);
  CHECK(all[0].message.find("2 times") != std::string::npos);
  CHECK_FALSE(store.claim_trial(id, "w3", counting_proposer()));
}

TEST_CASE("sweep store: interrupted trials are requeued on resume") {
  TempDb tmp;
  XP_EACH_REGISTRY_BACKEND(location, tmp.db());
  SqlSweepStore store(location);
  auto id = store.create_sweep(sweep_record(2));
  REQUIRE(store.claim_trial(id, "w", counting_proposer()));
  CHECK(store.finish_trial(id, 0, "w", TrialState::Interrupted, std::nullopt, std::nullopt, "Ctrl-C"));
  CHECK(store.requeue_interrupted(id) == 1);
  auto again = store.claim_trial(id, "w", counting_proposer());
  REQUIRE(again);
  CHECK(again->number == 0);
}

TEST_CASE("sweep store: planned trials (xp run --launcher slurm) are leased once; a resubmission requeues only "
          "what did not finish") {
  TempDb tmp;
  XP_EACH_REGISTRY_BACKEND(location, tmp.db());
  SqlSweepStore store(location);
  auto record = sweep_record(3);
  record.method = "runs";
  auto id = store.create_sweep(record);
  std::vector<ParamSet> planned;
  for (int64_t seed : {7, 8, 9}) planned.push_back({{"variant", xp::Value("focal")}, {"seed", xp::Value(seed)}});
  store.add_planned_trials(id, planned);
  store.add_planned_trials(id, planned);  // a second submission adds nothing
  auto all = store.trials(id);
  REQUIRE(all.size() == 3);
  CHECK(all[2].state == TrialState::Waiting);
  CHECK(all[2].params.at("seed").as_int() == 9);
  const Proposer none = [](const std::vector<TrialRecord>&, int64_t) { return std::optional<ParamSet>(); };
  std::set<int64_t> claimed;
  for (const char* w : {"a", "b", "c"}) {
    auto t = store.claim_trial(id, w, none);
    REQUIRE(t);
    claimed.insert(t->number);
  }
  CHECK(claimed == std::set<int64_t>{0, 1, 2});
  CHECK_FALSE(store.claim_trial(id, "d", none));  // nothing is proposed beyond the plan
  CHECK(store.complete_trial(id, 0, "a", 0));
  CHECK(store.fail_trial(id, 1, "b", "diverged"));
  CHECK(store.finish_trial(id, 2, "c", TrialState::Interrupted, std::nullopt, std::nullopt, "SIGTERM"));
  CHECK(store.requeue_unfinished(id) == 2);
  all = store.trials(id);
  CHECK(all[0].state == TrialState::Complete);
  CHECK(all[1].state == TrialState::Waiting);
  CHECK(all[1].attempts == 0);
  CHECK(all[1].message == "resubmitted after: failed");
  auto again = store.claim_trial(id, "e", none);
  REQUIRE(again);
  CHECK(again->number == 1);
}

TEST_CASE("sweep store: claims are exclusive across 4 concurrent processes") {
  TempDb tmp;
  XP_EACH_REGISTRY_BACKEND(location, tmp.db());
  const int64_t n_trials = 60;
  std::string id;
  {
    SqlSweepStore store(location);
    id = store.create_sweep(sweep_record(n_trials));
  }
  // The children start together: each blocks reading a pipe until the parent closes it.
  int start[2];
  REQUIRE(::pipe(start) == 0);
  std::vector<pid_t> children;
  for (int w = 0; w < 4; ++w) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(start[1]);
      char c;
      while (::read(start[0], &c, 1) > 0) {
      }
      int code = 0;
      try {
        SqlSweepStore store(location);
        std::ofstream out(tmp.dir / ("claims_" + std::to_string(w)));
        std::string worker = "w" + std::to_string(w);
        while (auto t = store.claim_trial(id, worker, counting_proposer())) {
          out << t->number << "\n" << std::flush;
          ::usleep(2000);  // a trial takes a moment, so the claims interleave
          if (!store.complete_trial(id, t->number, worker, static_cast<double>(t->number))) code = 3;
        }
      } catch (...) {
        code = 2;
      }
      ::_exit(code);
    }
    children.push_back(pid);
  }
  ::close(start[0]);
  ::close(start[1]);
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  std::multiset<int64_t> claimed;
  int workers_with_claims = 0;
  for (int w = 0; w < 4; ++w) {
    std::ifstream in(tmp.dir / ("claims_" + std::to_string(w)));
    int64_t n, mine = 0;
    while (in >> n) claimed.insert(n), ++mine;
    workers_with_claims += mine > 0;
  }
  CHECK(claimed.size() == static_cast<size_t>(n_trials));
  CHECK(std::set<int64_t>(claimed.begin(), claimed.end()).size() == static_cast<size_t>(n_trials));  // none twice
  CHECK(*claimed.rbegin() == n_trials - 1);
  SqlSweepStore store(location);
  auto all = store.trials(id);
  CHECK(all.size() == static_cast<size_t>(n_trials));
  for (const auto& t : all) {
    CHECK(t.state == TrialState::Complete);
    CHECK(t.params.at("x") == xp::Value(t.number * 10));
  }
  CHECK(workers_with_claims >= 2);
}
