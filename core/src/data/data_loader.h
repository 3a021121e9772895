#pragma once
// The data loader: worker threads load and augment samples, batches come out in sampler order.
//
// Every random draw of a sample's augmentation comes from Rng::for_sample(seed, epoch, position),
// where position is the sample's place in the epoch's order, and batches are cut from the stream
// of good samples in that order. So the batches do not depend on the number of workers or on
// which worker finishes first. A sample whose Split::load throws xp::BadSample is skipped: the
// batch takes the next good sample instead, and the skip is reported.

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>
#include <deque>
#include <atomic>

#include "data/collate.h"
#include "xp/augmentation.h"
#include "xp/dataset.h"

namespace xp::data {

struct LoaderOptions {
  int64_t batch_size = 32;
  bool drop_last = false;
  int64_t workers = 2;   // 0: load in the calling thread
  int64_t prefetch = 4;  // batches prepared ahead of the consumer
  uint64_t seed = 0;
  Task task = Task::Classification;
  bool pin_memory = false;  // page-locked batches, so the copy to the GPU can overlap compute
  // Set: uint8 images stay uint8 and batches come out as uint8 [N, H, W, C]; the consumer applies
  // this conversion (on the device). See data/pixel_conversion.h.
  std::optional<PixelConversion> deferred_conversion;
};

struct SkippedSample {
  int64_t index = -1;  // index in the split
  std::string source;  // file path when the dataset knows it
  std::string reason;
};

// Loads one sample at `position` of an epoch's order: Split::load, then the augmentations with
// the sample's own Rng. Throws xp::BadSample for an unreadable item.
// stage_batch_size > 0: a sample left as a PlannedCrop stays encoded when its batch stage's split
// gives it this slot of a batch of that size (xp/batch_decode.h); otherwise everything is decoded.
// `stage` (optional) receives that batch stage whether or not this sample was left to it.
Sample load_sample(const Split& split, const std::vector<std::shared_ptr<Augmentation>>& augment, uint64_t seed,
                   int64_t epoch, int64_t position, int64_t index, int64_t stage_batch_size = 0,
                   std::shared_ptr<BatchDecodeStage>* stage = nullptr);

// One pass over `order`. Not copyable; the destructor stops and joins the workers, so breaking
// out of an epoch early (interrupt, max_steps_per_epoch) is safe.
class EpochLoader {
 public:
  EpochLoader(std::shared_ptr<const Split> split, std::vector<std::shared_ptr<Augmentation>> augment,
              LoaderOptions options, int64_t epoch, std::vector<int64_t> order);
  ~EpochLoader();
  EpochLoader(const EpochLoader&) = delete;
  EpochLoader& operator=(const EpochLoader&) = delete;

  // The next batch in order, or nullopt at the end of the epoch. Rethrows a worker's error
  // (anything other than xp::BadSample).
  std::optional<Batch> next();
  // Samples skipped so far (in order).
  std::vector<SkippedSample> skipped() const;
  // Batches this epoch yields if no sample is bad.
  int64_t expected_batches() const;
  // The batch decode stage that decoded part of this epoch's batches, null while none has.
  std::shared_ptr<BatchDecodeStage> batch_stage() const;

 private:
  struct Slot {
    bool ready = false;
    std::optional<PreparedSample> sample;
    std::optional<SkippedSample> skipped;
  };

  void worker_loop();
  void assembler_loop();
  Slot load_slot(int64_t position) const;
  std::optional<Batch> next_inline();
  void stop();
  const PixelConversion* deferred() const {
    return options_.deferred_conversion ? &*options_.deferred_conversion : nullptr;
  }

  std::shared_ptr<const Split> split_;
  std::vector<std::shared_ptr<Augmentation>> augment_;
  LoaderOptions options_;
  int64_t epoch_;
  std::vector<int64_t> order_;

  mutable std::mutex mutex_;
  std::condition_variable slot_ready_, space_free_, batch_ready_;
  std::vector<Slot> slots_;
  int64_t next_claim_ = 0;  // next position a worker takes
  int64_t consumed_ = 0;    // positions the assembler has taken
  std::deque<Batch> batches_;
  bool finished_ = false;   // the assembler produced its last batch
  bool stopping_ = false;
  std::exception_ptr error_;
  std::vector<SkippedSample> skipped_;
  std::shared_ptr<BatchDecodeStage> stage_;  // see batch_stage()
  std::vector<std::thread> threads_;

  int64_t inline_position_ = 0;  // workers == 0
};

}  // namespace xp::data
