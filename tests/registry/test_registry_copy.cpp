// xp registry copy: a laptop's SQLite registry into PostgreSQL and back, every row intact, and
// idempotent (copying twice adds nothing; a run that moved on since is updated).
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>

#include "pg_test_server.h"
#include "registry_copy.h"
#include "sql_sweep_store.h"
#include "test_registry_support.h"
#include "xp/errors.h"

using namespace xp;
namespace fs = std::filesystem;

namespace {

sweeps::SweepRecord a_sweep() {
  sweeps::SweepRecord r;
  r.config_path = "s.toml";
  r.config_text = "[sweep]\nmethod = \"random\"\n";
  r.experiment = "seg.toml";
  r.method = "random";
  r.metric = "test_acc";
  r.direction = sweeps::Direction::Maximize;
  r.max_trials = 3;
  return r;
}

// Everything a user can see of a run, as one comparable text.
std::string describe(RunRegistry& reg, const std::string& id) {
  auto r = reg.get_run(id);
  REQUIRE(r);
  std::ostringstream s;
  s << r->id << "|" << r->info.experiment << "|" << r->info.variant << "|" << r->info.seed << "|"
    << run_status_name(r->status) << "|" << r->start_time << "|" << r->end_time.value_or(-1) << "|"
    << r->info.config_text << "|" << r->info.run_dir << "|" << r->info.git_commit << "|" << r->info.host << "\n";
  for (const auto& [k, v] : r->info.params) s << "param " << k << "=" << v << "\n";
  for (const auto& [k, v] : r->info.tags) s << "tag " << k << "=" << v << "\n";
  for (const auto& k : r->summary_order) s << "summary " << k << "=" << r->summary.at(k) << "\n";
  for (const auto& [k, v] : r->finals) s << "final " << k << "=" << v << "\n";
  for (const auto& m : reg.metric_history(id)) s << "metric " << m.name << " " << m.epoch << " " << m.step << " " << m.value << "\n";
  for (const auto& m : reg.metric_stats(id))
    s << "stats " << m.name << " " << m.n << " " << m.last_epoch << " " << m.final << " " << m.min << " " << m.max << "\n";
  for (const auto& a : reg.artifacts(id)) s << "artifact " << a.path << " " << a.kind << " " << a.size << " " << a.sha256 << "\n";
  return s.str();
}

std::string describe_trials(sweeps::SweepStore& store, const std::string& id) {
  std::ostringstream s;
  for (const auto& t : store.trials(id)) {
    s << t.number << " " << sweeps::trial_state_name(t.state) << " " << t.value.value_or(-1) << " " << t.attempts;
    for (const auto& [k, v] : t.params) s << " " << k << "=" << v.to_string();
    for (const auto& [e, v] : t.intermediate) s << " @" << e << "=" << v;
    for (const auto& r : t.run_ids) s << " run:" << r;
    s << "\n";
  }
  return s.str();
}

}  // namespace

TEST_CASE("registry copy: SQLite -> PostgreSQL -> SQLite keeps every row; copying twice adds nothing") {
  registry_test::ScratchDir dir;
  const std::string laptop = (dir.path / "laptop" / "registry.db").string();
  std::string ce, focal, running, sweep_id;
  {
    RunRegistry reg(laptop);
    ce = registry_test::record_run(reg, "seg", "ce", 1, 0.80, {{"loss.name", "\"ce\""}, {"train.lr", "0.1"}});
    focal = registry_test::record_run(reg, "seg", "focal", 1, 0.86, {{"loss.name", "\"focal\""}, {"loss.gamma", "2.0"}});
    std::ofstream(dir.path / "best.pt") << "weights";
    reg.add_artifact(focal, (dir.path / "best.pt").string(), "checkpoint");
    reg.set_tag(focal, "note", "it's \"quoted\"");
    running = reg.begin(registry_test::run_info("seg", "focal", 2));
    reg.log_metrics(running, 1, 10, {{"val_acc", 0.5}, {"train_loss", std::nan("")}});
    reg.flush();
    sweeps::SqlSweepStore store(laptop);
    sweep_id = store.create_sweep(a_sweep());
    auto propose = [](const std::vector<sweeps::TrialRecord>&, int64_t n) -> std::optional<sweeps::ParamSet> {
      return sweeps::ParamSet{{"loss.gamma", Value(0.5 + n)}};
    };
    auto t0 = store.claim_trial(sweep_id, "w", propose);
    store.report_intermediate(sweep_id, t0->number, 1, 0.4);
    store.set_trial_runs(sweep_id, t0->number, {focal});
    store.complete_trial(sweep_id, t0->number, "w", 0.86);
    store.claim_trial(sweep_id, "w", propose);  // left running
  }

  const std::string lab = test::pg_database();
  auto first = registry::copy_registry(laptop, lab, {});
  CHECK(first.runs_copied == 3);
  CHECK(first.sweeps_copied == 1);
  CHECK(first.rows > 20);

  auto again = registry::copy_registry(laptop, lab, {});
  CHECK(again.runs_copied == 0);
  CHECK(again.runs_updated == 0);
  CHECK(again.runs_skipped == 3);
  CHECK(again.sweeps_skipped == 1);
  CHECK(again.rows == 0);

  // The running run and trial finish on the laptop; the next copy brings their new state over.
  {
    RunRegistry reg(laptop);
    reg.log_metrics(running, 2, 20, {{"val_acc", 0.7}});
    reg.set_summary(running, {{"test_acc", 0.69}});
    reg.finish(running, RunStatus::Finished);
    sweeps::SqlSweepStore store(laptop);
    store.complete_trial(sweep_id, 1, "w", 0.69);
  }
  auto update = registry::copy_registry(laptop, lab, {});
  CHECK(update.runs_updated == 1);
  CHECK(update.runs_skipped == 2);
  CHECK(update.sweeps_updated == 1);

  // And back into a fresh file: identical to the original, row for row.
  const std::string back = (dir.path / "back.db").string();
  auto home = registry::copy_registry(lab, back, {});
  CHECK(home.runs_copied == 3);
  {
    RunRegistry a(laptop), b(lab), c(back);
    for (const auto& id : {ce, focal, running}) {
      CHECK(describe(a, id) == describe(b, id));
      CHECK(describe(a, id) == describe(c, id));
    }
    CHECK(b.get_run(running)->status == RunStatus::Finished);
    sweeps::SqlSweepStore sa(laptop), sb(lab), sc(back);
    CHECK(describe_trials(sa, sweep_id) == describe_trials(sb, sweep_id));
    CHECK(describe_trials(sa, sweep_id) == describe_trials(sc, sweep_id));
    CHECK(describe_trials(sc, sweep_id).find("0 complete 0.86 1 loss.gamma=0.5 @1=0.4 run:" + focal) == 0);
    // The copy is a registry like any other: queries work on it.
    RunQuery q;
    q.where = "params.loss.gamma >= 2 and metrics.test_acc > 0.8";
    auto found = b.list_runs(q);
    REQUIRE(found.size() == 1);
    CHECK(found[0].id == focal);
  }

  // A filter copies only the matching runs, and the sweeps whose trials used them.
  registry::CopyOptions only_ce;
  only_ce.where = "variant = 'ce'";
  auto some = registry::copy_registry(laptop, (dir.path / "ce.db").string(), only_ce);
  CHECK(some.runs_copied == 1);
  CHECK(some.sweeps_copied == 0);
  CHECK_THROWS_AS(registry::copy_registry(laptop, laptop, {}), ConfigError);
  CHECK_THROWS_AS(registry::copy_registry((dir.path / "none.db").string(), lab, {}), ConfigError);
}
