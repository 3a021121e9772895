#pragma once
// Decoding on a batch stage (the GPU) instead of in the loader's workers.
//
// A dataset whose images a batch stage can decode (`decoder = "nvjpeg_batched"`) returns encoded
// images whose batch_stage() is that stage. random_resized_crop and the flips then do not touch
// pixels: they record a CropPlan (the region of the source, the output size, a mirror) in a
// PlannedCrop, which is still an EncodedImage. At the end of a sample's pipeline the loader asks
// the stage's DecodeSplit whether this sample goes to the stage or is decoded by the worker (the
// PlannedCrop's own decode(): libjpeg-turbo region decode + cv::resize + flip, the pixels of the CPU
// pipeline). The collating thread hands the batch to BatchDecodeStage::run, which decodes the
// planned samples (batched nvJPEG on the hardware decoder), crops and resizes them in one batched
// op, uploads the worker-decoded ones beside them and returns the uint8 [N, H, W, C] batch on the
// device, for the trainer's on-device conversion (data/pixel_conversion.h).
//
// The crop parameters are drawn by the augmentation on the CPU from the sample's Rng, as always:
// which side decodes a sample changes its pixels only by the GPU decoder's tolerance
// (docs/performance.md), never the crop.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>
#include <torch/types.h>

#include "xp/encoded_image.h"

namespace xp {

// What a batch stage does to one source image: crop `region`, resize it to `size` (bilinear, as
// cv::resize INTER_LINEAR), then mirror left-right when `hflip`.
struct CropPlan {
  cv::Rect region;
  cv::Size size;
  bool hflip = false;
};

// Shares the images of one batch between the loader's workers (CPU decode) and a batch stage, from
// measured costs, so that neither side waits for the other.
//
// Per batch of B images, with W workers, a worker cost of c_cpu per image it decodes fully and
// c_light per image it only plans, and a stage cost of a + g t_gpu for g images (wall time of the
// collating thread; a = its fixed cost per batch): the workers take ((B - g) c_cpu + g c_light) / W,
// the stage a + g t_gpu. Both are equal at
//     g = (B c_cpu / W - a) / (t_gpu + (c_cpu - c_light) / W).
// Costs are moving averages (a and t_gpu a weighted least-squares fit of the stage's batches, a = 0
// until g has varied); until both sides have been measured the share is `initial`.
//
// The model alone can be wrong by a lot: the fit is noisy while g hardly varies (on an H200 it read
// 1.8 ms + 0.16 ms an image where the stage's phases said about 11 ms + 0.01 ms), and the stage's
// real cost in training includes waiting behind the trainer's kernels. So the assembler's view
// corrects it by feedback (record_assembly): a batch for which it waited on the workers moves the
// share up by a step; a batch for which it waited on neither the workers nor the trainer (the stage
// itself is the slowest part) moves it down by a quarter step. The share settles at the balance of
// workers and stage, and stays where it is while the trainer is the slowest part: the loader's
// headroom then absorbs the jitter of both sides (settling at the least GPU work that keeps the
// trainer fed measured slower end to end on an H200: the loader ran at its edge).
class DecodeSplit {
 public:
  // fixed in [0, 1]: always that share to the stage; negative: tuned at run time.
  explicit DecodeSplit(double fixed = -1.0, double initial = 0.5) : fixed_(fixed), initial_(initial) {}

  // Whether the sample at `slot` (0-based place in its batch) of a batch of `batch_size` goes to
  // the stage. The chosen slots are spread evenly over the batch.
  bool to_stage(int64_t slot, int64_t batch_size) const;
  // The stage's share of a batch now.
  double share() const;

  void set_workers(int64_t workers) { workers_.store(workers < 1 ? 1 : workers); }
  // A worker's wall time for one sample: `decoded` = it decoded the pixels, else it only planned.
  void record_worker(double seconds, bool decoded);
  // The stage's wall time for one batch, of which `staged` images were decoded by the stage.
  void record_stage(double seconds, int64_t staged);
  // The assembler's view of one batch: of `interval_seconds` since the batch before, it waited
  // `starved_seconds` for samples the workers had not finished and `blocked_seconds` for the
  // consumer (the trainer) to take a batch.
  void record_assembly(double starved_seconds, double blocked_seconds, double interval_seconds);

  struct Costs {
    double worker_decode = 0, worker_plan = 0, stage_per_image = 0;  // seconds, 0 = not measured yet
    double stage_per_batch = 0;                                       // the fit's fixed cost a
    double model_share = 0, correction = 0;  // share() = model_share + correction, clamped
    int64_t starved_batches = 0, blocked_batches = 0, stage_bound_batches = 0;  // record_assembly's batches
    int64_t worker_decoded = 0, worker_planned = 0, stage_images = 0;  // how many were measured
  };
  Costs costs() const;

 private:
  double fixed_, initial_;
  std::atomic<int64_t> workers_{1};
  mutable std::atomic<int64_t> batch_size_{0};  // the last batch size to_stage() saw
  double s1_ = 0, sg_ = 0, st_ = 0, sgg_ = 0, sgt_ = 0;  // decayed sums of the stage's (g, t)
  mutable std::mutex mutex_;
  Costs costs_;

  double model_share_locked() const;
};

class PlannedCrop;
class BatchDecodeStage;

// One line on how a stage shared the batches so far: its share, which side the loader waited on,
// the measured costs, then the stage's own describe().
std::string summarize(const BatchDecodeStage& stage);

class BatchDecodeStage {
 public:
  virtual ~BatchDecodeStage() = default;

  // One sample of a batch, in batch order: either a plan for the stage, or pixels the worker
  // decoded (uint8 [H, W, C] on the CPU; page-locked when the loader pins them, which lets the
  // stage copy them to the device straight from where the worker wrote them).
  struct Item {
    std::shared_ptr<const PlannedCrop> planned;
    int examined = -1;  // what examine() said of `planned` on the worker's thread; -1: not asked
    torch::Tensor decoded;
    std::string source;
  };
  // Called by a loader worker for a sample it leaves to the stage, so that per-image work on the
  // encoded bytes (parsing headers) is spread over the workers instead of done on the collating
  // thread; the result comes back in Item::examined. -1: nothing to say (run() works it out).
  // Thread-safe.
  virtual int examine(const PlannedCrop&) const { return -1; }
  struct Result {
    torch::Tensor images;  // uint8 [N - failed, H, W, C] on the stage's device, ready to use
    std::vector<std::pair<size_t, std::string>> failed;  // item index and why (corrupt data)
  };
  // Called by the collating thread only. Throws std::runtime_error when the items differ in size.
  virtual Result run(const std::vector<Item>& items) = 0;
  // Where its batches live (the trainer's to(device) then moves nothing).
  virtual torch::Device device() const = 0;
  // One line for reports (xp bench loader): which decoder, how many images, where the time went.
  virtual std::string describe() const { return {}; }

  DecodeSplit& split() { return split_; }
  const DecodeSplit& split() const { return split_; }

 protected:
  explicit BatchDecodeStage(double fixed_share = -1.0) : split_(fixed_share) {}

 private:
  DecodeSplit split_;
};

// An encoded image with a crop, resize and flip still to do. decode() does them on the CPU (the
// source's decode_resized: its region decode and cv::resize INTER_LINEAR, then cv::flip): exactly
// the pixels of the CPU pipeline with the same source. width() x height() is the planned output.
class PlannedCrop : public EncodedImage {
 public:
  PlannedCrop(std::shared_ptr<const EncodedImage> source, CropPlan plan) : source_(std::move(source)), plan_(plan) {}
  int width() const override { return plan_.size.width; }
  int height() const override { return plan_.size.height; }
  int channels() const override { return source_->channels(); }
  cv::Mat decode(const cv::Rect& region) const override;
  using EncodedImage::decode;
  std::shared_ptr<BatchDecodeStage> batch_stage() const override { return source_->batch_stage(); }

  const EncodedImage& source() const { return *source_; }
  const CropPlan& plan() const { return plan_; }
  // The same plan mirrored left-right (hflip of a planned sample).
  std::shared_ptr<const PlannedCrop> mirrored() const;

 private:
  std::shared_ptr<const EncodedImage> source_;
  CropPlan plan_;
};

}  // namespace xp
