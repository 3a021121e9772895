#pragma once
// The loop itself: epochs (with stages), each a pass over the training split through the train
// step, then validation; stops on request (divergence, early stopping) or interrupt; then the
// test split. It fires the callback events (engine/callback.h) and knows none of the features
// that listen to them.

#include <atomic>
#include <filesystem>
#include <memory>

#include "engine/callback.h"
#include "engine/evaluator.h"
#include "engine/run_log.h"
#include "engine/runtime.h"
#include "engine/train_state.h"
#include "engine/train_step.h"
#include "engine/trainer.h"

namespace xp::distributed {
class DistributedContext;
}

namespace xp::engine {

class FitLoop {
 public:
  struct Parts {
    TrainSetup* setup = nullptr;
    const Runtime* runtime = nullptr;
    TrainStep* step = nullptr;
    Evaluator* evaluator = nullptr;
    CallbackList* callbacks = nullptr;
    RunLog* log = nullptr;
    const std::atomic<bool>* interrupt = nullptr;
    std::filesystem::path best_checkpoint;  // weights the test split sees (checkpoint.test_with = "best"); may be empty
    distributed::DistributedContext* dist = nullptr;  // data-parallel: this rank's share of every epoch
  };
  explicit FitLoop(Parts parts) : p_(parts), s_(*parts.setup), o_(parts.setup->options) {}

  void run(TrainState& state);

 private:
  void train_epoch(TrainState& state, int64_t epoch);
  std::unique_ptr<data::EpochLoader> make_loader(int64_t epoch) const;
  void start_next_loader(const TrainState& state, int64_t epoch);
  MetricsRow epoch_row(TrainState& state, int64_t epoch, bool& interrupted_in_validation);
  void apply_stage(int64_t epoch);
  void summarize(TrainState& state);
  void test(TrainState& state);
  void note_skipped(TrainState& state, const std::string& split, int64_t epoch,
                    const std::vector<data::SkippedSample>& skipped);
  bool interrupted() const { return p_.interrupt && p_.interrupt->load(); }
  // Data-parallel: true on every rank when any rank was interrupted (a signal reaches the ranks at
  // slightly different moments), so that all stop after the same step. One all-reduce of a flag.
  bool interrupted_everywhere();

  Parts p_;
  TrainSetup& s_;
  const TrainOptions& o_;
  int64_t current_stage_ = -2;
  double data_wait_s_ = 0;  // this epoch's time waiting for the loader's next batch
  // The next epoch's loader, started when this epoch's last batch is taken: its workers fill the
  // first batches while the last step, validation and the epoch-end callbacks (checkpoints) run,
  // so the next epoch does not begin by waiting for a whole batch to be decoded.
  std::unique_ptr<data::EpochLoader> next_loader_;
  int64_t next_loader_epoch_ = -1;
};

// The per-epoch split of the work: batches per epoch and optimizer steps per epoch, after
// drop_last, accumulation and max_steps_per_epoch. Throws ConfigError when no batch fits.
void plan_epochs(const TrainSetup& setup, TrainState& state, const distributed::DistributedContext* dist = nullptr);

// The order this process trains epoch `epoch` in: epoch_order, or this rank's shard of it.
std::vector<int64_t> rank_order(const TrainSetup& setup, int64_t epoch, const distributed::DistributedContext* dist);

}  // namespace xp::engine
