// The fit loop's features one at a time, without training: the monitor rule, best-epoch
// judgement, early stopping on synthetic histories, the console line, and the train step's
// gradient accumulation against one big batch.
#include <doctest/doctest.h>

#include <sstream>

#include "engine/callbacks/best_metric.h"
#include "engine/callbacks/console.h"
#include "engine/callbacks/early_stopping.h"
#include "engine/monitor.h"
#include "engine/run_files.h"
#include "engine/run_log.h"
#include "engine/runtime.h"
#include "engine/train_step.h"
#include "xp/errors.h"

using namespace xp::engine;

namespace {

std::vector<MetricsRow> history_of(const std::string& key, const std::vector<double>& values) {
  std::vector<MetricsRow> rows;
  for (size_t i = 0; i < values.size(); ++i) rows.push_back({{"epoch", double(i + 1)}, {key, values[i]}});
  return rows;
}

EarlyStoppingOptions patience(int64_t n) {
  EarlyStoppingOptions o;
  o.enabled = true;
  o.patience = n;
  return o;
}

}  // namespace

TEST_CASE("monitor: one rule for the no-val fallback, name and mode") {
  auto m = resolve_monitor("val_top1", "max", /*has_val_split=*/false);
  CHECK(m.name == "train_loss");
  CHECK(m.mode == "min");
  CHECK(m.fell_back);
  auto kept = resolve_monitor("val_top1", "max", true);
  CHECK(kept.name == "val_top1");
  CHECK(kept.mode == "max");
  CHECK_FALSE(kept.fell_back);
  // A non-val monitor needs no fallback.
  CHECK(resolve_monitor("train_loss", "min", false).name == "train_loss");
  CHECK(resolve_monitor("lr", "max", false).mode == "max");
  CHECK(m.better(0.1, 0.2));
  CHECK_FALSE(kept.better(0.1, 0.2));
  CHECK_FALSE(kept.better(0.205, 0.2, 0.01));  // min_delta
}

TEST_CASE("monitor: names an epoch can log, from declared metric outputs") {
  const std::vector<std::string> outputs{"top1", "top*", "obj_f1_*"};
  CHECK(is_epoch_metric("val_top1", outputs));
  CHECK(is_epoch_metric("val_top5", outputs));
  CHECK(is_epoch_metric("val_obj_f1_30", outputs));
  CHECK(is_epoch_metric("train_loss", outputs));
  CHECK(is_epoch_metric("val_loss", outputs));
  CHECK_FALSE(is_epoch_metric("val_f1", outputs));
  CHECK_FALSE(is_epoch_metric("test_top1", outputs));  // test metrics are not per-epoch
  CHECK_FALSE(is_epoch_metric("val_tp1", outputs));
}

TEST_CASE("early stopping: max and min modes on synthetic histories") {
  EarlyStoppingCallback max_cb(patience(2), {"val_top1", "max"}, nullptr);
  CHECK_FALSE(max_cb.should_stop(history_of("val_top1", {0.5, 0.6, 0.7})));
  CHECK_FALSE(max_cb.should_stop(history_of("val_top1", {0.5, 0.6, 0.6})));   // 1 bad epoch
  CHECK(max_cb.should_stop(history_of("val_top1", {0.5, 0.6, 0.6, 0.55})));   // 2 bad epochs
  EarlyStoppingCallback min_cb(patience(2), {"val_loss", "min"}, nullptr);
  CHECK_FALSE(min_cb.should_stop(history_of("val_loss", {1.0, 0.8, 0.6, 0.5})));
  CHECK(min_cb.should_stop(history_of("val_loss", {1.0, 0.8, 0.9, 0.85})));
  // The same falling curve stops a max monitor: the bug a kept mode caused after the fallback.
  CHECK(max_cb.should_stop(history_of("val_top1", {1.0, 0.8, 0.6, 0.5})));

  // Through the event: a stop request, and a log line saying why.
  std::ostringstream out;
  RunFiles files("");
  RunLog log(out, files, false);
  EarlyStoppingCallback cb(patience(1), {"val_loss", "min"}, &log);
  TrainState state;
  state.history = history_of("val_loss", {1.0, 1.1});
  cb.on_epoch_end(state, state.history.back());
  CHECK(state.stop_requested());
  CHECK(state.status == xp::RunStatus::Finished);
  CHECK(out.str().find("early stopping: val_loss has not improved for 1 epochs") != std::string::npos);
}

TEST_CASE("early stopping without a val split watches train_loss, minimized") {
  // Configured for val_top1 (max): resolved as the checkpoint's monitor is, a falling training
  // loss is improvement and never stops the run.
  EarlyStoppingCallback cb(patience(1), resolve_monitor("val_top1", "max", false), nullptr);
  CHECK_FALSE(cb.should_stop(history_of("train_loss", {1.0, 0.9, 0.8, 0.7})));
  CHECK(cb.should_stop(history_of("train_loss", {1.0, 0.9, 0.95})));
}

TEST_CASE("best metric: judged in the monitor's direction, NaN never best") {
  TrainState state;
  state.monitor = {"val_ap", "max"};
  judge_epoch(state, {{"epoch", 1}, {"val_loss", 1.0}, {"val_ap", 0.2}});
  CHECK(state.improved);
  judge_epoch(state, {{"epoch", 2}, {"val_loss", 1.0}, {"val_ap", 0.1}});
  CHECK_FALSE(state.improved);
  judge_epoch(state, {{"epoch", 3}, {"val_loss", 1.0}, {"val_ap", std::nan("")}});
  CHECK_FALSE(state.improved);
  judge_epoch(state, {{"epoch", 4}, {"val_loss", 1.0}, {"val_ap", 0.3}});
  CHECK(state.improved);
  CHECK(*state.progress.best == doctest::Approx(0.3));
  CHECK(state.progress.best_epoch == 4);
  // An epoch without evaluation (eval_every) is not judged; an evaluated one without the metric is
  // a configuration error naming the closest logged name.
  judge_epoch(state, {{"epoch", 5}, {"train_loss", 0.5}});
  CHECK_FALSE(state.improved);
  state.monitor = {"val_aq", "max"};
  CHECK_THROWS_WITH_AS(judge_epoch(state, {{"epoch", 6}, {"val_loss", 1.0}, {"val_ap", 0.3}}),
                       doctest::Contains("did you mean 'val_ap'"), xp::ConfigError);

  TrainState min_state;
  min_state.monitor = {"train_loss", "min"};
  judge_epoch(min_state, {{"epoch", 1}, {"train_loss", 0.5}});
  judge_epoch(min_state, {{"epoch", 2}, {"train_loss", 0.4}});
  CHECK(min_state.improved);
  CHECK(min_state.progress.best_epoch == 2);
}

TEST_CASE("console: the epoch line with the console's metrics and a star on a new best") {
  std::ostringstream out;
  RunFiles files("");
  RunLog log(out, files, false);
  ConsoleCallback console(log, {"ap"});
  TrainState state;
  state.total_epochs = 3;
  state.improved = true;
  console.on_epoch_end(state, {{"epoch", 2}, {"train_loss", 0.25}, {"val_ap", 0.5}, {"val_iou", 0.1},
                               {"lr", 0.001}, {"time_epoch_s", 61}});
  const std::string line = out.str();
  CHECK(line.find("epoch 2/3  train_loss 0.2500") == 0);
  CHECK(line.find("val_ap 0.5000") != std::string::npos);
  CHECK(line.find("val_iou") == std::string::npos);
  CHECK(line.find("1:01  *") != std::string::npos);
}

TEST_CASE("train step: two accumulated half batches step like one full batch") {
  auto run = [](int64_t accumulate) {
    torch::manual_seed(3);
    struct Linear : xp::Model {
      Linear() { fc = register_module("fc", torch::nn::Linear(4, 2)); }
      xp::ModelOutput forward(const torch::Tensor& x) override { return {fc->forward(x), {}}; }
      torch::nn::Linear fc{nullptr};
    };
    struct CrossEntropy : xp::Loss {
      torch::Tensor forward(const xp::ModelOutput& out, const xp::Batch& b) override {
        return torch::nn::functional::cross_entropy(out.logits, b.target);
      }
    };
    Linear model;
    CrossEntropy loss;
    TrainOptions o;
    o.epochs = 1;
    o.accumulate = accumulate;
    o.optimizer.name = "sgd";
    o.optimizer.lr = 0.5;
    o.optimizer.momentum = 0.0;
    Runtime rt;
    TrainStep step(model, loss, o, rt, 1);
    torch::manual_seed(7);
    xp::Batch full;
    full.input = torch::randn({8, 4});
    full.target = torch::randint(0, 2, {8});
    int64_t steps = 0;
    if (accumulate == 1) {
      step.backward(step.forward(full));
    } else {
      for (int64_t h = 0; h < 2; ++h) {
        xp::Batch half;
        half.input = full.input.slice(0, h * 4, h * 4 + 4);
        half.target = full.target.slice(0, h * 4, h * 4 + 4);
        step.backward(step.forward(half));
      }
    }
    step.optimizer_step(0, steps);
    CHECK(steps == 1);
    return model.fc->weight.detach().clone();
  };
  const torch::Tensor one = run(1), accumulated = run(2);
  CHECK(torch::allclose(one, accumulated, 1e-6, 1e-6));
  CHECK_FALSE(torch::allclose(one, torch::zeros_like(one)));
}
