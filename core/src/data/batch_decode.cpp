#include "xp/batch_decode.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <opencv2/imgproc.hpp>

namespace xp {

namespace {

// A tuned share moves in steps of 1/32 of a batch: nvJPEG's batched decoder is set up again
// whenever the number of images it gets changes, so the count should not change every batch.
constexpr double kSteps = 32.0, kMinShare = 1.0 / kSteps, kMaxShare = 1.0 - 1.0 / kSteps;

// Moving average that starts from the first measurement.
void blend(double& average, int64_t& count, double value) {
  constexpr double kWeight = 0.05;  // about the last 20 measurements
  average = count == 0 ? value : (1.0 - kWeight) * average + kWeight * value;
  ++count;
}

}  // namespace

bool DecodeSplit::to_stage(int64_t slot, int64_t batch_size) const {
  if (batch_size < 1) return false;
  batch_size_.store(batch_size);
  const double s = share();
  // Slot i goes to the stage when the running count floor((i + 1) s) steps up at i: an even spread.
  const int64_t slot_in_batch = ((slot % batch_size) + batch_size) % batch_size;
  return std::floor(static_cast<double>(slot_in_batch + 1) * s) > std::floor(static_cast<double>(slot_in_batch) * s);
}

double DecodeSplit::model_share_locked() const {
  const Costs& c = costs_;
  if (c.worker_decoded == 0 || c.stage_images == 0) return initial_;
  const double plan = c.worker_planned ? c.worker_plan : 0.0;
  const double w = static_cast<double>(workers_.load());
  const double b = static_cast<double>(std::max<int64_t>(batch_size_.load(), 1));
  const double per_image = c.stage_per_image + (c.worker_decode - plan) / w;
  if (per_image <= 0.0) return 1.0;
  const double g = (b * c.worker_decode / w - c.stage_per_batch) / per_image;
  return g / b;
}

double DecodeSplit::share() const {
  if (fixed_ >= 0.0) return std::min(1.0, fixed_);
  std::lock_guard<std::mutex> lock(mutex_);
  // Never all to one side: the other side's cost must stay measured as conditions change.
  return std::clamp(std::round((model_share_locked() + costs_.correction) * kSteps) / kSteps, kMinShare, kMaxShare);
}

void DecodeSplit::record_assembly(double starved_seconds, double blocked_seconds, double interval_seconds) {
  if (fixed_ >= 0.0 || interval_seconds <= 0.0) return;
  // A batch "waited" on one side when that side held the assembler up for more than a twentieth of
  // the interval: scheduling noise stays below that, a real shortage well above.
  constexpr double kWaited = 0.05, kStep = 0.02;
  std::lock_guard<std::mutex> lock(mutex_);
  if (starved_seconds > kWaited * interval_seconds) {
    costs_.correction += kStep;
    ++costs_.starved_batches;
  } else if (blocked_seconds > kWaited * interval_seconds) {
    ++costs_.blocked_batches;
    return;
  } else {
    costs_.correction -= kStep / 4;
    ++costs_.stage_bound_batches;
  }
  // No wind-up: the correction never pushes past the clamp of share().
  const double model = model_share_locked();
  costs_.correction = std::clamp(costs_.correction, kMinShare - model, kMaxShare - model);
}

void DecodeSplit::record_worker(double seconds, bool decoded) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (decoded)
    blend(costs_.worker_decode, costs_.worker_decoded, seconds);
  else
    blend(costs_.worker_plan, costs_.worker_planned, seconds);
}

void DecodeSplit::record_stage(double seconds, int64_t staged) {
  if (staged <= 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  constexpr double kKeep = 0.95;  // about the last 20 batches
  const double g = static_cast<double>(staged);
  s1_ = kKeep * s1_ + 1.0;
  sg_ = kKeep * sg_ + g;
  st_ = kKeep * st_ + seconds;
  sgg_ = kKeep * sgg_ + g * g;
  sgt_ = kKeep * sgt_ + g * seconds;
  const double variance = s1_ * sgg_ - sg_ * sg_;
  double per_image = st_ / sg_, per_batch = 0.0;
  if (variance > 1e-6 * s1_ * sgg_) {  // g has varied: fit t = a + g t_gpu
    const double slope = (s1_ * sgt_ - sg_ * st_) / variance;
    const double intercept = (st_ - slope * sg_) / s1_;
    if (slope > 0.0 && intercept >= 0.0) {
      per_image = slope;
      per_batch = intercept;
    }
  }
  costs_.stage_per_image = per_image;
  costs_.stage_per_batch = per_batch;
  costs_.stage_images += staged;
}

DecodeSplit::Costs DecodeSplit::costs() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Costs c = costs_;
  c.model_share = model_share_locked();
  return c;
}

cv::Mat PlannedCrop::decode(const cv::Rect& region) const {
  cv::Mat out;
  out = source_->decode_resized(plan_.region, plan_.size);
  if (plan_.hflip) cv::flip(out, out, 1);
  if (region == cv::Rect(0, 0, out.cols, out.rows)) return out;
  return out(region).clone();
}

std::shared_ptr<const PlannedCrop> PlannedCrop::mirrored() const {
  CropPlan p = plan_;
  p.hflip = !p.hflip;
  return std::make_shared<PlannedCrop>(source_, p);
}

std::string summarize(const BatchDecodeStage& stage) {
  const DecodeSplit::Costs c = stage.split().costs();
  char line[768];
  std::snprintf(line, sizeof line,
                "batch decode stage on %s: GPU share %.2f of each batch (cost model %.2f, feedback %+.2f: of its batches "
                "%ld waited on the workers, %ld on the consumer, %ld on the stage); workers %.3f ms per image they "
                "decode, %.3f ms per image they leave to the GPU; GPU stage %.3f ms per batch + %.3f ms per image (%ld "
                "images)",
                stage.device().str().c_str(), stage.split().share(), c.model_share, c.correction,
                static_cast<long>(c.starved_batches), static_cast<long>(c.blocked_batches),
                static_cast<long>(c.stage_bound_batches), 1e3 * c.worker_decode, 1e3 * c.worker_plan,
                1e3 * c.stage_per_batch, 1e3 * c.stage_per_image, static_cast<long>(c.stage_images));
  std::string out = line;
  const std::string how = stage.describe();
  if (!how.empty()) out += "\n  " + how;
  return out;
}

}  // namespace xp
