#include "data/data_loader.h"

#include <opencv2/core/utility.hpp>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "xp/batch_decode.h"
#include "xp/errors.h"

namespace xp::data {

namespace {

void pin(Batch& batch) {
  auto pin_one = [](torch::Tensor& t) {
    if (t.defined() && t.device().is_cpu() && !t.is_pinned()) t = t.pin_memory();
  };
  pin_one(batch.input);
  pin_one(batch.target);
  pin_one(batch.soft_target);
  for (auto& [name, t] : batch.extra) pin_one(t);
}

}  // namespace

Sample load_sample(const Split& split, const std::vector<std::shared_ptr<Augmentation>>& augment, uint64_t seed,
                   int64_t epoch, int64_t position, int64_t index, int64_t stage_batch_size,
                   std::shared_ptr<BatchDecodeStage>* stage_out) {
  const auto t0 = std::chrono::steady_clock::now();
  Sample sample = split.load_lazy(static_cast<size_t>(index));
  sample.index = index;
  Rng rng = Rng::for_sample(seed, epoch, position);
  for (const auto& a : augment) {
    if (!a->reads_encoded()) decode_pending(sample);
    a->apply(sample, rng);
  }
  // A planned crop whose stage takes this slot of the batch stays encoded (xp/batch_decode.h).
  std::shared_ptr<BatchDecodeStage> stage;
  if (stage_batch_size > 0 && sample.image.empty() && dynamic_cast<const PlannedCrop*>(sample.encoded.get()))
    stage = sample.encoded->batch_stage();
  const bool to_stage = stage && stage->split().to_stage(position, stage_batch_size);
  if (!to_stage) decode_pending(sample);
  if (stage)
    stage->split().record_worker(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                                 !to_stage);
  if (stage_out) *stage_out = std::move(stage);
  return sample;
}

EpochLoader::EpochLoader(std::shared_ptr<const Split> split, std::vector<std::shared_ptr<Augmentation>> augment,
                         LoaderOptions options, int64_t epoch, std::vector<int64_t> order)
    : split_(std::move(split)), augment_(std::move(augment)), options_(options), epoch_(epoch),
      order_(std::move(order)) {
  if (options_.batch_size < 1) throw std::invalid_argument("EpochLoader: batch_size must be >= 1");
  if (options_.prefetch < 1) options_.prefetch = 1;
  const int64_t n = static_cast<int64_t>(split_->size());
  for (int64_t i : order_)
    if (i < 0 || i >= n)
      throw std::runtime_error("sampler returned index " + std::to_string(i) + " for a split of " +
                               std::to_string(n) + " samples");
  if (options_.workers <= 0) return;
  // The loader's threads are the parallelism: OpenCV's own pool inside each decode and resize would
  // only oversubscribe the cores (the usual cv2.setNumThreads(0) of Python DataLoader workers).
  if (options_.workers > 1) cv::setNumThreads(1);
  slots_.resize(order_.size());
  for (int64_t w = 0; w < options_.workers; ++w) threads_.emplace_back([this] { worker_loop(); });
  threads_.emplace_back([this] { assembler_loop(); });
}

EpochLoader::~EpochLoader() { stop(); }

void EpochLoader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  slot_ready_.notify_all();
  space_free_.notify_all();
  batch_ready_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

int64_t EpochLoader::expected_batches() const {
  const int64_t n = static_cast<int64_t>(order_.size()), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

EpochLoader::Slot EpochLoader::load_slot(int64_t position) const {
  Slot slot;
  const int64_t index = order_[position];
  try {
    // Batches that are converted on the device may come from a batch stage there.
    const int64_t stage_batch = deferred() ? options_.batch_size : 0;
    std::shared_ptr<BatchDecodeStage> stage;
    Sample sample = load_sample(*split_, augment_, options_.seed, epoch_, position, index, stage_batch, &stage);
    // A sample this worker decoded for a stage's batch goes to the device from where it is written
    // (page-locked), not through a copy on the collating thread.
    slot.sample = prepare_sample(sample, deferred(), stage && options_.pin_memory);
    if (slot.sample->pending) {
      stage->split().set_workers(options_.workers);
      slot.sample->examined = stage->examine(*slot.sample->pending);
    }
  } catch (const BadSample& e) {
    slot.skipped = SkippedSample{index, e.source(), e.what()};
  }
  slot.ready = true;
  return slot;
}

void EpochLoader::worker_loop() {
  // Workers take small runs of consecutive positions (fewer lock round trips) but never more
  // than `prefetch` batches ahead of the assembler, which bounds memory.
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(options_.batch_size, 8));
  const int64_t window = options_.prefetch * options_.batch_size + chunk;
  const int64_t n = static_cast<int64_t>(order_.size());
  for (;;) {
    int64_t begin, end;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      space_free_.wait(lock, [&] { return stopping_ || error_ || next_claim_ >= n || next_claim_ < consumed_ + window; });
      if (stopping_ || error_ || next_claim_ >= n) return;
      begin = next_claim_;
      end = std::min(n, begin + chunk);
      next_claim_ = end;
    }
    for (int64_t p = begin; p < end; ++p) {
      Slot slot;
      try {
        slot = load_slot(p);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
        slot_ready_.notify_all();
        batch_ready_.notify_all();
        space_free_.notify_all();
        return;
      }
      std::lock_guard<std::mutex> lock(mutex_);
      slots_[p] = std::move(slot);
      if (p == consumed_) slot_ready_.notify_all();
    }
  }
}

void EpochLoader::assembler_loop() {
  const int64_t n = static_cast<int64_t>(order_.size());
  std::vector<PreparedSample> current;
  // For a batch decode stage's split (xp/batch_decode.h): per batch, how long this thread waited
  // on the workers and on the consumer.
  using clock = std::chrono::steady_clock;
  double starved = 0.0, blocked = 0.0;  // waiting on the workers, on the consumer
  auto last_batch = clock::now();
  int64_t assembled = 0;
  auto tell_stage = [&] {
    const auto now = clock::now();
    // The first batch of an epoch waits for the pipeline to fill, whatever the split.
    for (const PreparedSample& s : current)
      if (s.pending) {
        auto stage = s.pending->batch_stage();
        if (assembled > 0)
          stage->split().record_assembly(starved, blocked, std::chrono::duration<double>(now - last_batch).count());
        std::lock_guard<std::mutex> lock(mutex_);
        if (!stage_) stage_ = std::move(stage);
        break;
      }
    ++assembled;
    starved = blocked = 0.0;
    last_batch = now;
  };
  auto emit = [&]() -> bool {
    Batch batch;
    try {
      std::vector<std::pair<size_t, std::string>> failed;
      batch = collate(current, options_.task, options_.pin_memory, deferred(), &failed);
      tell_stage();
      if (!failed.empty()) {
        std::lock_guard<std::mutex> lock(mutex_);
        for (const auto& [i, why] : failed) skipped_.push_back(SkippedSample{current[i].index, current[i].source, why});
      }
      if (options_.pin_memory) pin(batch);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
      batch_ready_.notify_all();
      space_free_.notify_all();
      return false;
    }
    current.clear();
    if (batch.size() == 0) return true;  // every sample of it failed in the batch stage
    std::unique_lock<std::mutex> lock(mutex_);
    if (static_cast<int64_t>(batches_.size()) >= options_.prefetch) {
      const auto t0 = clock::now();
      space_free_.wait(lock, [&] { return stopping_ || static_cast<int64_t>(batches_.size()) < options_.prefetch; });
      blocked += std::chrono::duration<double>(clock::now() - t0).count();
    }
    if (stopping_) return false;
    batches_.push_back(std::move(batch));
    batch_ready_.notify_one();
    return true;
  };
  for (int64_t p = 0; p < n; ++p) {
    Slot slot;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (!slots_[p].ready) {
        const auto t0 = clock::now();
        slot_ready_.wait(lock, [&] { return stopping_ || error_ || slots_[p].ready; });
        starved += std::chrono::duration<double>(clock::now() - t0).count();
      }
      if (stopping_ || error_) return;
      slot = std::move(slots_[p]);
      slots_[p] = Slot{};
      consumed_ = p + 1;
      if (slot.skipped) skipped_.push_back(*slot.skipped);
    }
    space_free_.notify_all();
    if (slot.sample) {
      current.push_back(std::move(*slot.sample));
      if (static_cast<int64_t>(current.size()) == options_.batch_size && !emit()) return;
    }
  }
  if (!current.empty() && !options_.drop_last && !emit()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  finished_ = true;
  batch_ready_.notify_all();
}

std::optional<Batch> EpochLoader::next_inline() {
  const int64_t n = static_cast<int64_t>(order_.size());
  std::vector<PreparedSample> current;
  while (inline_position_ < n && static_cast<int64_t>(current.size()) < options_.batch_size) {
    Slot slot = load_slot(inline_position_++);
    if (slot.skipped) {
      std::lock_guard<std::mutex> lock(mutex_);
      skipped_.push_back(*slot.skipped);
    } else {
      current.push_back(std::move(*slot.sample));
    }
  }
  if (current.empty()) return std::nullopt;
  if (static_cast<int64_t>(current.size()) < options_.batch_size && options_.drop_last) return std::nullopt;
  std::vector<std::pair<size_t, std::string>> failed;
  Batch batch = collate(current, options_.task, options_.pin_memory, deferred(), &failed);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [i, why] : failed) skipped_.push_back(SkippedSample{current[i].index, current[i].source, why});
  }
  if (batch.size() == 0) return next_inline();  // every sample of it failed in the batch stage
  if (options_.pin_memory) pin(batch);
  return batch;
}

std::optional<Batch> EpochLoader::next() {
  if (options_.workers <= 0) return next_inline();
  std::unique_lock<std::mutex> lock(mutex_);
  batch_ready_.wait(lock, [&] { return error_ || !batches_.empty() || finished_ || stopping_; });
  if (error_) std::rethrow_exception(error_);
  if (batches_.empty()) return std::nullopt;
  Batch batch = std::move(batches_.front());
  batches_.pop_front();
  space_free_.notify_all();
  return batch;
}

std::shared_ptr<BatchDecodeStage> EpochLoader::batch_stage() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stage_;
}

std::vector<SkippedSample> EpochLoader::skipped() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return skipped_;
}

}  // namespace xp::data
