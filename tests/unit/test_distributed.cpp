// Data parallelism without the trainer: world discovery, sharding, the [train] distributed table,
// and two real ranks over Gloo on localhost (tests/distributed/ddp_worker.cpp) started by the
// launcher `xp run --nproc-per-node` uses.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <signal.h>
#include <unistd.h>

#include <torch/torch.h>

#include "distributed/gradient_reducer.h"
#include "distributed/launcher.h"
#include "distributed/shard.h"
#include "distributed/world.h"
#include "engine/callbacks/resume.h"
#include "engine/train_options.h"
#include "xp/errors.h"

namespace xd = xp::distributed;

namespace {

xd::EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::filesystem::path scratch(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("xp_ddp_test_" + std::to_string(::getpid()) + "_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Timed {
  xd::LaunchResult result;
  double seconds = 0;
};

Timed launch_worker(std::vector<std::string> args, bool stop_on_failure = true) {
  xd::LaunchOptions o;
  o.nproc = 2;
  o.program = XP_DDP_WORKER;
  o.args = std::move(args);
  o.stop_on_failure = stop_on_failure;
  o.grace = std::chrono::seconds(2);
  const auto t0 = std::chrono::steady_clock::now();
  Timed t;
  t.result = xd::launch_local_ranks(o);
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return t;
}

}  // namespace

TEST_CASE("distributed world: torchrun names, Slurm names, single process, bad values") {
  auto single = xd::discover_world(env_of({}));
  CHECK(single.world_size == 1);
  CHECK(single.source == "single");
  CHECK_FALSE(single.distributed());

  auto tr = xd::discover_world(env_of({{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"},
                                       {"LOCAL_WORLD_SIZE", "2"}, {"MASTER_ADDR", "node0"}, {"MASTER_PORT", "1234"}}));
  CHECK(tr.rank == 3);
  CHECK(tr.world_size == 4);
  CHECK(tr.local_rank == 1);
  CHECK(tr.local_world_size == 2);
  CHECK(tr.master_addr == "node0");
  CHECK(tr.master_port == 1234);
  CHECK(tr.source == "env");

  auto sl = xd::discover_world(env_of({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"},
                                       {"SLURM_TASKS_PER_NODE", "4(x2)"}, {"SLURM_JOB_NODELIST", "gpu[07-08]"},
                                       {"SLURM_JOB_ID", "4242"}}));
  CHECK(sl.rank == 5);
  CHECK(sl.world_size == 8);
  CHECK(sl.local_rank == 1);
  CHECK(sl.local_world_size == 4);
  CHECK(sl.master_addr == "gpu07");
  CHECK(sl.master_port == 20000 + 4242);
  CHECK(sl.source == "slurm");

  CHECK(xd::first_slurm_host("a01,b[1-3]") == "a01");
  CHECK(xd::first_slurm_host("node[003-005,9],x") == "node003");
  CHECK(xd::first_slurm_host("rack[2]-n[1-4]") == "rack2-n[1-4]");  // only the first bracket is expanded
  CHECK(xd::first_slurm_host("solo") == "solo");

  CHECK_THROWS_WITH_AS(xd::discover_world(env_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}})),
                       doctest::Contains("rank 2 is outside 0..1"), xp::ConfigError);
  CHECK_THROWS_WITH_AS(xd::discover_world(env_of({{"RANK", "x"}, {"WORLD_SIZE", "2"}})),
                       doctest::Contains("RANK=x is not an integer"), xp::ConfigError);
  CHECK_THROWS_WITH_AS(xd::discover_world(env_of({{"RANK", "0"}})), doctest::Contains("WORLD_SIZE"), xp::ConfigError);
  CHECK_THROWS_WITH_AS(xd::discover_world(env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "70000"}})),
                       doctest::Contains("MASTER_PORT"), xp::ConfigError);
}

TEST_CASE("distributed sharding: equal counts, every sample, the single process's global batches") {
  for (int64_t n : {0, 1, 7, 64, 101}) {
    for (int world : {1, 2, 3, 4}) {
      for (int64_t batch : {1, 4, 5}) {
        std::vector<int64_t> order(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = (i * 13 + 5) % std::max<int64_t>(n, 1) + 1000;
        std::multiset<int64_t> seen;
        size_t expected = static_cast<size_t>((n + world - 1) / world);
        std::vector<std::vector<int64_t>> parts;
        for (int r = 0; r < world; ++r) {
          parts.push_back(xd::shard_for_training(order, r, world, batch));
          CHECK(parts.back().size() == expected);
          seen.insert(parts.back().begin(), parts.back().end());
        }
        // Every sample appears; only the padding (fewer than `world` samples) repeats.
        for (int64_t v : order) CHECK(seen.count(v) >= 1);
        CHECK(seen.size() - std::set<int64_t>(seen.begin(), seen.end()).size() < static_cast<size_t>(world));
        // Full rounds: the ranks' k-th batches together are the one-process batch k of size batch*world.
        const int64_t rounds = static_cast<int64_t>(expected) / batch;
        for (int64_t k = 0; k < rounds; ++k) {
          std::multiset<int64_t> together, single;
          for (int r = 0; r < world; ++r)
            together.insert(parts[static_cast<size_t>(r)].begin() + k * batch, parts[static_cast<size_t>(r)].begin() + (k + 1) * batch);
          // Past the end the order wraps around: that is the padding.
          for (int64_t i = k * batch * world; i < (k + 1) * batch * world; ++i) single.insert(order[static_cast<size_t>(i % n)]);
          CHECK(together == single);
        }
        // Evaluation: disjoint, complete, no padding.
        std::vector<int64_t> joined;
        for (int r = 0; r < world; ++r) {
          auto e = xd::shard_for_evaluation(order, r, world);
          joined.insert(joined.end(), e.begin(), e.end());
        }
        CHECK(joined == order);
      }
    }
  }
  CHECK_THROWS(xd::shard_for_training({1, 2}, 2, 2, 1));
}

TEST_CASE("[train] distributed reads into TrainOptions with defaults") {
  xp::engine::TrainOptions defaults = xp::engine::TrainOptions::from_params(xp::Params());
  CHECK(defaults.distributed.backend == "auto");
  CHECK(defaults.distributed.bucket_mb == doctest::Approx(25.0));
  CHECK_FALSE(defaults.distributed.find_unused);
  xp::Value::Table dist{{"backend", xp::Value(std::string("gloo"))}, {"bucket_mb", xp::Value(4.0)},
                        {"timeout_s", xp::Value(30.0)}};
  xp::Value::Table train{{"distributed", xp::Value(dist)}};
  auto o = xp::engine::TrainOptions::from_params(xp::Params("train", train, "test"));
  CHECK(o.distributed.backend == "gloo");
  CHECK(o.distributed.bucket_mb == doctest::Approx(4.0));
  CHECK(o.distributed.timeout_s == doctest::Approx(30.0));
}

TEST_CASE("gradient reducer on a 1-rank gloo group: grads kept, no_sync, unused and double-ready parameters") {
  xd::World world;
  world.master_port = xd::free_local_port();
  world.host = xd::host_name();
  xd::ConnectOptions co;
  co.backend = "gloo";
  co.timeout = std::chrono::seconds(10);
  auto comm = xd::connect(world, co);
  CHECK(comm->backend() == "gloo");
  CHECK(comm->hosts() == std::vector<std::string>{world.host});

  torch::manual_seed(0);
  torch::nn::Linear a(6, 5), b(5, 3), unused(3, 3);
  std::vector<torch::Tensor> params{a->weight, a->bias, b->weight, b->bias, unused->weight};
  std::vector<std::string> names{"a.weight", "a.bias", "b.weight", "b.bias", "unused.weight"};
  auto x = torch::randn({4, 6});
  auto loss_of = [&] { return b(torch::relu(a(x))).pow(2).mean(); };

  // Reference gradients without any reducer.
  loss_of().backward();
  std::vector<torch::Tensor> expected;
  for (auto& p : params) expected.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
  for (auto& p : params) p.mutable_grad() = torch::Tensor();

  {
    xd::GradientReducer reducer(params, names, comm, /*bucket_bytes=*/64, /*find_unused=*/true);
    CHECK(reducer.bucket_count() >= 3);
    // Two micro-steps: the first without sync accumulates locally, the second reduces the sum.
    reducer.prepare(false);
    loss_of().backward();
    reducer.finish();
    CHECK(reducer.stats().reductions == 0);
    reducer.prepare(true);
    loss_of().backward();
    reducer.finish();
    CHECK(reducer.stats().reductions == 1);
    for (size_t i = 0; i < 4; ++i) CHECK(torch::allclose(params[i].grad(), 2 * expected[i]));
    CHECK(params[4].grad().abs().sum().item<double>() == 0.0);  // reduced as zeros
    CHECK_THROWS_WITH_AS([&] { reducer.prepare(true); reducer.prepare(true); }(), doctest::Contains("finish_gradients"),
                         std::logic_error);
  }
  for (auto& p : params) p.mutable_grad() = torch::Tensor();
  {
    xd::GradientReducer reducer(params, names, comm, 1 << 20, /*find_unused=*/false);
    reducer.prepare(true);
    loss_of().backward();
    CHECK_THROWS_WITH(reducer.finish(), doctest::Contains("no gradient reached unused.weight"));
    reducer.prepare(true);
    auto loss = loss_of();
    loss.backward({}, /*retain_graph=*/true);
    CHECK_THROWS_WITH(loss.backward(), doctest::Contains("became ready twice"));
  }
  // Destroyed reducers removed their hooks: backward works as before.
  for (auto& p : params) p.mutable_grad() = torch::Tensor();
  loss_of().backward();
  CHECK(torch::allclose(params[0].grad(), expected[0]));
}

TEST_CASE("ddp over gloo: 2 ranks x batch B/2 train the same weights as 1 process x batch B (SGD, AdamW, accumulation)") {
  for (const auto& [optimizer, accumulate] : std::vector<std::pair<std::string, int>>{{"sgd", 1}, {"sgd", 3}, {"adamw", 2}}) {
    CAPTURE(optimizer);
    CAPTURE(accumulate);
    auto dir = scratch("train_" + optimizer);
    auto t = launch_worker({"train", optimizer, std::to_string(accumulate), dir.string()});
    INFO(slurp(dir / "rank0.txt") << slurp(dir / "rank1.txt") << t.result.message);
    CHECK(t.result.first_failed_rank == -1);
    CHECK(slurp(dir / "rank0.txt").find("max_abs_diff") != std::string::npos);
    CHECK(slurp(dir / "rank1.txt").find("reductions " + std::to_string(6 / accumulate + (6 % accumulate ? 1 : 0))) !=
          std::string::npos);
    std::filesystem::remove_all(dir);
  }
}

TEST_CASE("ddp over gloo: metrics reduced across 2 ranks equal one process's over the whole split") {
  auto dir = scratch("metrics");
  auto t = launch_worker({"metrics", std::string(XP_BINARY_DIR) + "/plugins", dir.string()});
  INFO(slurp(dir / "rank0.txt") << slurp(dir / "rank1.txt") << t.result.message);
  CHECK(t.result.first_failed_rank == -1);
  CHECK(slurp(dir / "rank1.txt").find("refused_unreducible 1") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("ddp over gloo: a rank that dies ends the other with an error naming it, within the timeout") {
  auto dir = scratch("die");
  // The launcher does not intervene: the surviving rank must notice on its own.
  auto t = launch_worker({"die", dir.string()}, /*stop_on_failure=*/false);
  const std::string rank0 = slurp(dir / "rank0.txt");
  INFO(rank0 << t.result.message);
  REQUIRE(t.result.ranks.size() == 2);
  CHECK(t.result.ranks[1].signal == SIGKILL);
  CHECK(t.result.ranks[0].exit_code == 3);
  CHECK(rank0.find("rank 0/2 on " + xd::host_name()) != std::string::npos);
  CHECK(t.seconds < 15);
  // With the launcher watching, the message names the dead rank and its host.
  CHECK(t.result.message.find("rank 1 (pid") != std::string::npos);
  CHECK(t.result.message.find("killed by signal 9") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("ddp over gloo: a rank that hangs makes the other time out; the launcher then stops it") {
  auto dir = scratch("hang");
  auto t = launch_worker({"hang", dir.string()});
  const std::string rank0 = slurp(dir / "rank0.txt");
  INFO(rank0 << t.result.message);
  REQUIRE(t.result.ranks.size() == 2);
  CHECK(t.result.first_failed_rank == 0);
  CHECK(t.result.ranks[0].exit_code == 3);
  CHECK(t.result.ranks[1].stopped_by_launcher);
  CHECK(rank0.find("rank 0/2") != std::string::npos);
  CHECK(t.seconds < 20);  // timeout 2 s + grace 2 s, far below rank 1's 60 s sleep
  std::filesystem::remove_all(dir);
}

TEST_CASE("ddp over gloo: sync_batchnorm, 2 ranks x batch B/2 train the same weights and statistics as 1 process x batch B") {
  auto dir = scratch("syncbn");
  auto t = launch_worker({"syncbn", dir.string()});
  INFO(slurp(dir / "rank0.txt") << slurp(dir / "rank1.txt") << t.result.message);
  CHECK(t.result.first_failed_rank == -1);
  CHECK(slurp(dir / "rank1.txt").find("synchronised_calls 12") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("ddp resume: a 2-rank run interrupted by one rank and resumed on 2 ranks equals the uninterrupted run") {
  auto dir = scratch("resume");
  auto logs = [&](const std::string& mode) {
    return slurp(dir / (mode + "_rank0.log")) + slurp(dir / (mode + "_rank1.log"));
  };
  for (const std::string mode : {"full", "interrupt"}) {
    auto t = launch_worker({"fit", mode, dir.string()});
    INFO(mode << ": " << logs(mode) << t.result.message);
    REQUIRE(t.result.first_failed_rank == -1);
  }
  // Rank 0 recorded how the run was trained.
  const std::string full0 = slurp(dir / "full_rank0.log");
  CHECK(full0.find("tag world_size=2\n") != std::string::npos);
  CHECK(full0.find("tag dist_backend=gloo\n") != std::string::npos);
  CHECK(full0.find("tag dist_hosts=" + xd::host_name() + " (ranks 0-1)\n") != std::string::npos);
  // The interrupted state, kept for a resume with another world size below.
  std::filesystem::copy(dir / "split", dir / "split1", std::filesystem::copy_options::recursive);
  auto t = launch_worker({"fit", "resume", dir.string()});
  INFO(logs("resume") << t.result.message);
  CHECK(t.result.first_failed_rank == -1);
  CHECK(slurp(dir / "resume_rank0.log").find("resumed from") != std::string::npos);
  CHECK(slurp(dir / "resume_rank1.log").find("mismatches 0") != std::string::npos);

  // One process continues the 2-rank checkpoint: re-sharded, the step count re-based.
  const std::string cmd = std::string("env -u RANK -u WORLD_SIZE '") + XP_DDP_WORKER + "' fit resume1 '" + dir.string() + "'";
  CHECK(std::system(cmd.c_str()) == 0);
  const std::string single = slurp(dir / "resume1_rank0.log");
  INFO(single);
  CHECK(single.find("the checkpoint was written by 2 ranks, this run has 1") != std::string::npos);
  CHECK(single.find("step 4 becomes 8") != std::string::npos);
  CHECK(single.find("status finished") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("ddp resume: re-sharding a checkpoint's position onto another number of ranks") {
  using xp::engine::LoopState;
  LoopState boundary;
  boundary.epoch = 3, boundary.step = 3 * 10, boundary.world_size = 2;
  auto note = xp::engine::reshard_progress(boundary, 4, /*steps_per_epoch=*/5, /*accumulate=*/1, /*batch_size=*/8);
  CHECK(boundary.step == 15);
  CHECK(boundary.world_size == 4);
  CHECK(note.find("global batch is now 32 (was 16") != std::string::npos);

  LoopState same;
  same.epoch = 1, same.batches_done = 3, same.step = 7, same.world_size = 2;
  CHECK(xp::engine::reshard_progress(same, 2, 5, 1, 8).empty());
  CHECK(same.step == 7);

  LoopState middle;
  middle.epoch = 1, middle.batches_done = 6, middle.step = 13, middle.world_size = 2;  // 12 global blocks
  xp::engine::reshard_progress(middle, 3, /*steps_per_epoch=*/9, /*accumulate=*/2, 8);
  CHECK(middle.batches_done == 4);
  CHECK(middle.step == 9 + 2);

  LoopState uneven;
  uneven.epoch = 0, uneven.batches_done = 5, uneven.world_size = 2;  // 10 global blocks
  CHECK_THROWS_WITH_AS(xp::engine::reshard_progress(uneven, 4, 5, 1, 8),
                       doctest::Contains("resume it with 2 ranks (--nproc-per-node 2)"), xp::ConfigError);
}
