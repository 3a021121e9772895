#pragma once
// What the fit loop tells the features that listen to it. Each feature (console, metrics.csv,
// TensorBoard, the registry, checkpoints, early stopping, calibration) is one Callback in its own
// file under engine/callbacks/; the loop knows none of them. Callbacks run in the order they were
// added (engine/trainer.cpp sets that order and says why), every event in the same order.

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/train_state.h"
#include "xp/sample.h"

namespace xp::engine {

struct BatchEnd {
  int64_t epoch = 0;       // 0-based
  int64_t batch = 0;       // 1-based: batches of this epoch trained so far
  int64_t batches = 0;     // batches this epoch will train
  bool stepped = false;    // this batch completed an optimizer step (accumulation)
  double lr = 0.0;         // when stepped: the learning rate that step used
  double mean_loss = 0.0;  // the epoch's running training loss as far as it has been read
  const Batch* input = nullptr;  // the batch as the model saw it (device, converted)
};

class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_fit_start(TrainState&) {}                     // after setup and resume, before epoch 1
  virtual void on_epoch_start(TrainState&, int64_t /*epoch*/) {}
  virtual void on_batch_end(TrainState&, const BatchEnd&) {}
  virtual void on_epoch_end(TrainState&, const MetricsRow&) {}  // the row is already in history
  virtual void on_interrupt(TrainState&) {}                     // stopped by the interrupt flag mid-epoch
  virtual void on_test_end(TrainState&) {}                      // the test split has been scored
  virtual void on_fit_end(TrainState&) {}                       // the summary is complete
};

// Dispatches every event to each callback in order.
class CallbackList {
 public:
  void add(std::unique_ptr<Callback> c) { list_.push_back(std::move(c)); }
  template <class C, class... Args>
  C& emplace(Args&&... args) {
    auto c = std::make_unique<C>(std::forward<Args>(args)...);
    C& ref = *c;
    list_.push_back(std::move(c));
    return ref;
  }
  void fit_start(TrainState& s) { for (auto& c : list_) c->on_fit_start(s); }
  void epoch_start(TrainState& s, int64_t e) { for (auto& c : list_) c->on_epoch_start(s, e); }
  void batch_end(TrainState& s, const BatchEnd& b) { for (auto& c : list_) c->on_batch_end(s, b); }
  void epoch_end(TrainState& s, const MetricsRow& r) { for (auto& c : list_) c->on_epoch_end(s, r); }
  void interrupt(TrainState& s) { for (auto& c : list_) c->on_interrupt(s); }
  void test_end(TrainState& s) { for (auto& c : list_) c->on_test_end(s); }
  void fit_end(TrainState& s) { for (auto& c : list_) c->on_fit_end(s); }

 private:
  std::vector<std::unique_ptr<Callback>> list_;
};

}  // namespace xp::engine
