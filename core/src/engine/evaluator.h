#pragma once
// Scores a split: the eval pipeline (epoch -1 transforms, deterministic), the model in eval mode
// under autocast, the run's TTA, the loss and every metric plugin. The fit loop uses it for
// validation, test and calibration; `xp ensemble` and `xp predict` use its batch iteration
// (for_each_batch) to get per-sample outputs the same way.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "data/data_loader.h"
#include "engine/runtime.h"
#include "engine/train_options.h"
#include "xp/augmentation.h"
#include "xp/dataset.h"
#include "xp/loss.h"
#include "xp/metric.h"
#include "xp/model.h"

namespace xp::distributed {
class DistributedContext;
}

namespace xp::engine {

struct EvalResult {
  std::map<std::string, double> values;          // "<prefix>_loss", "<prefix>_<metric output>"
  std::vector<data::SkippedSample> skipped;      // samples the loader could not read
  bool interrupted = false;                      // the interrupt flag stopped the pass early
};

struct EvalRequest {
  std::string prefix = "val";
  // Rewrites the logits before loss and metrics see them (calibration).
  std::function<torch::Tensor(const torch::Tensor&)> adjust;
  // Receives every batch with its (adjusted, float) logits: per-sample predictions.
  std::function<void(const Batch&, const torch::Tensor& logits)> on_batch;
};

class Evaluator {
 public:
  struct Parts {
    Model* model = nullptr;
    Loss* loss = nullptr;                       // may be null: no loss value
    std::vector<std::shared_ptr<Metric>> metrics;
    std::vector<std::shared_ptr<Augmentation>> eval_augment;
    Task task = Task::Classification;
    uint64_t seed = 0;
  };
  Evaluator(Parts parts, const TrainOptions& options, const Runtime& runtime);

  // Predictions in logit space: the model's, or the TTA average mapped back to logits.
  ModelOutput predict(const torch::Tensor& input);
  EvalResult evaluate(const Split& split, const EvalRequest& request);

  // Every batch of `split` through the eval pipeline, on the device, in index order.
  void for_each_batch(const Split& split, const std::function<void(Batch&)>& fn,
                      std::vector<data::SkippedSample>* skipped = nullptr);

  void set_interrupt(const std::atomic<bool>* flag) { interrupt_ = flag; }
  // Data-parallel: each rank scores its share of the split and the metric states are combined, so
  // every rank reports the whole split's values. Only when every metric can combine its state and
  // `shard` allows it (per-sample collection, e.g. calibration, needs the whole split on each rank).
  void set_distributed(distributed::DistributedContext* dist, bool shard) {
    dist_ = dist;
    shard_ = shard;
  }
  void set_progress(std::ostream* out, bool tty) {
    progress_out_ = out;
    tty_ = tty;
  }

 private:
  Parts p_;
  const TrainOptions& o_;
  const Runtime& rt_;
  const std::atomic<bool>* interrupt_ = nullptr;
  distributed::DistributedContext* dist_ = nullptr;
  bool shard_ = false;
  bool sharding() const;
  std::ostream* progress_out_ = nullptr;
  bool tty_ = false;
};

}  // namespace xp::engine
