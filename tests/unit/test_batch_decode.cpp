// The batch decode stage's CPU side (xp/batch_decode.h): the split of a batch between workers and
// stage, crops and flips kept as plans whose CPU decode equals the eager transforms, and the loader
// handing planned samples to a stage (here a CPU stand-in for the GPU one), bad files dropped and
// reported. The nvJPEG stage itself is tested on the GPU (tests/gpu/test_nvjpeg_batched.cpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <utility>

#include <opencv2/imgproc.hpp>

#include "data/collate.h"
#include "data/data_loader.h"
#include "test_classification_support.h"
#include "xp/batch_decode.h"
#include "xp/errors.h"

// LibTorch's logging (glog) defines a CHECK that aborts on failure; these tests mean doctest's.
#undef CHECK
#define CHECK DOCTEST_CHECK

namespace {

// A CPU stand-in for the GPU stage: decodes plans with their own decode(), so its batches must
// equal the workers' pixel for pixel. Files named "bad*" fail in the stage.
class CpuStage : public xp::BatchDecodeStage {
 public:
  explicit CpuStage(double share) : BatchDecodeStage(share) {}
  Result run(const std::vector<Item>& items) override {
    Result r;
    std::vector<torch::Tensor> rows;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].planned) {
        rows.push_back(items[i].decoded);
        continue;
      }
      ++staged;
      if (items[i].source.rfind("bad", 0) == 0) {
        r.failed.emplace_back(i, "corrupt in the stage");
        continue;
      }
      cv::Mat m = items[i].planned->decode();
      rows.push_back(torch::from_blob(m.data, {m.rows, m.cols, m.channels()}, torch::kUInt8).clone());
    }
    r.images = torch::stack(rows);
    split().record_stage(1e-4 * static_cast<double>(items.size()), static_cast<int64_t>(items.size()));
    return r;
  }
  torch::Device device() const override { return torch::kCPU; }
  std::atomic<int> staged{0};
};

// An image kept "encoded" (a Mat behind the EncodedImage interface) whose stage is `stage`.
class MatImage : public xp::EncodedImage {
 public:
  MatImage(cv::Mat m, std::shared_ptr<xp::BatchDecodeStage> stage) : m_(std::move(m)), stage_(std::move(stage)) {}
  int width() const override { return m_.cols; }
  int height() const override { return m_.rows; }
  int channels() const override { return m_.channels(); }
  cv::Mat decode(const cv::Rect& r) const override { return m_(r).clone(); }
  std::shared_ptr<xp::BatchDecodeStage> batch_stage() const override { return stage_; }

 private:
  cv::Mat m_;
  std::shared_ptr<xp::BatchDecodeStage> stage_;
};

cv::Mat picture(int h, int w, int seed) {
  cv::Mat m(h, w, CV_8UC3);
  cv::RNG rng(static_cast<uint64_t>(seed));
  rng.fill(m, cv::RNG::UNIFORM, 0, 256);
  cv::GaussianBlur(m, m, cv::Size(5, 5), 1.5);
  return m;
}

// Sample i: a picture of varying size, encoded behind `stage` (null: decoded already).
class PictureSplit : public xp::Split {
 public:
  PictureSplit(size_t n, std::shared_ptr<xp::BatchDecodeStage> stage, std::vector<size_t> bad = {})
      : n_(n), stage_(std::move(stage)), bad_(std::move(bad)) {}
  size_t size() const override { return n_; }
  xp::Sample load(size_t i) const override {
    xp::Sample s = load_lazy(i);
    xp::decode_pending(s);
    return s;
  }
  xp::Sample load_lazy(size_t i) const override {
    xp::Sample s;
    const cv::Mat m = picture(40 + static_cast<int>(i % 5) * 7, 50 + static_cast<int>(i % 3) * 11, static_cast<int>(i));
    const bool bad = std::find(bad_.begin(), bad_.end(), i) != bad_.end();
    s.source = (bad ? "bad_" : "img_") + std::to_string(i) + ".jpg";
    s.label = static_cast<int64_t>(i % 4);
    if (stage_) s.encoded = std::make_shared<MatImage>(m, stage_);
    else s.image = m;
    return s;
  }

 private:
  size_t n_;
  std::shared_ptr<xp::BatchDecodeStage> stage_;
  std::vector<size_t> bad_;
};

std::vector<std::shared_ptr<xp::Augmentation>> crop_and_flip() {
  return {xp_test::make<xp::Augmentation>("random_resized_crop", {{"size", xp_test::ints({24, 32})}}),
          xp_test::make<xp::Augmentation>("hflip")};
}

void load_augment() {
  static const bool loaded = [] {
    xp_test::load_plugin_library("xp_augment");
    return true;
  }();
  (void)loaded;
}

}  // namespace

TEST_CASE("decode split: fixed shares pick evenly spread slots") {
  auto count = [](const xp::DecodeSplit& s, int64_t b) {
    int n = 0;
    for (int64_t i = 0; i < b; ++i) n += s.to_stage(i, b);
    return n;
  };
  CHECK(count(xp::DecodeSplit(0.0), 256) == 0);
  CHECK(count(xp::DecodeSplit(1.0), 256) == 256);
  CHECK(count(xp::DecodeSplit(0.25), 8) == 2);
  CHECK(count(xp::DecodeSplit(0.6), 256) == 153);
  xp::DecodeSplit quarter(0.25);
  CHECK_FALSE(quarter.to_stage(0, 8));
  CHECK(quarter.to_stage(3, 8));
  CHECK(quarter.to_stage(11, 8));  // positions past the first batch wrap into it
}

TEST_CASE("decode split: the measured share balances workers and stage") {
  xp::DecodeSplit s;
  CHECK(s.share() == doctest::Approx(0.5));  // nothing measured yet
  s.set_workers(14);
  for (int i = 0; i < 50; ++i) {
    s.record_worker(1e-3, true);      // a full CPU decode: 1 ms
    s.record_worker(0.05e-3, false);  // reading the file and planning the crop: 0.05 ms
  }
  s.to_stage(0, 256);
  s.record_stage(256 * 0.05e-3, 256);  // the GPU: 0.05 ms an image
  // g/B = c_cpu / (W t_gpu + c_cpu - c_plan) = 1 / (0.7 + 1 - 0.05)
  CHECK(s.costs().model_share == doctest::Approx(1.0 / 1.65).epsilon(0.01));
  // The share itself moves in 32nds of a batch (nvJPEG's decoder is set up again for every new count).
  CHECK(s.share() == doctest::Approx(std::round(32.0 / 1.65) / 32));
  for (int i = 0; i < 200; ++i) s.record_stage(256 * 1e-3, 256);  // a slow stage gets little
  CHECK(s.costs().model_share == doctest::Approx(1.0 / (14 + 0.95)).epsilon(0.02));
  CHECK(s.share() == doctest::Approx(2.0 / 32));
  const auto c = s.costs();
  CHECK(c.worker_decoded == 50);
  CHECK(c.stage_images == 201 * 256);
  // A fixed cost per batch (5 ms, say launching and waiting) is fitted apart from the cost per image,
  // so a small share does not look expensive per image and shrink further.
  xp::DecodeSplit f;
  f.set_workers(14);
  f.to_stage(0, 256);
  for (int i = 0; i < 50; ++i) f.record_worker(1e-3, true);
  for (int i = 0; i < 40; ++i) {
    const int64_t g = i % 2 ? 40 : 160;
    f.record_stage(5e-3 + static_cast<double>(g) * 0.05e-3, g);
  }
  CHECK(f.costs().stage_per_batch == doctest::Approx(5e-3).epsilon(0.01));
  CHECK(f.costs().stage_per_image == doctest::Approx(0.05e-3).epsilon(0.01));
  // g = (256 * 1 / 14 - 5) / (0.05 + 1 / 14) ms
  CHECK(f.costs().model_share == doctest::Approx((256.0 / 14 - 5) / (0.05 + 1.0 / 14) / 256).epsilon(0.01));
}

namespace {

// A loader + batch stage + consumer, simulated batch by batch: W workers take c_cpu per image they
// decode and c_plan per image they leave to the stage, the stage a + g t per batch (what it reports
// to the split is `misreport` times that, as a noisy fit did on the H200), the consumer `consumer`
// seconds per batch. Per batch the slowest of the three sets the pace, and the assembler waits on the
// workers for as long as they are slower than the other two. Returns the last share and the mean
// images per second over the last 100 batches.
std::pair<double, double> simulate(double c_cpu, double a, double t, double consumer, double misreport) {
  constexpr int64_t B = 256, W = 14;
  const double c_plan = 0.05e-3;
  xp::DecodeSplit split;
  split.set_workers(W);
  double images = 0, seconds = 0;
  for (int batch = 0; batch < 400; ++batch) {
    int64_t g = 0;
    for (int64_t i = 0; i < B; ++i) g += split.to_stage(i, B);
    for (int64_t i = 0; i < B; ++i) split.record_worker(i < g ? c_plan : c_cpu, i >= g);
    const double workers = (static_cast<double>(B - g) * c_cpu + static_cast<double>(g) * c_plan) / W;
    const double stage = a + static_cast<double>(g) * t;
    split.record_stage(misreport * stage, g);
    const double interval = std::max({workers, stage, consumer});
    split.record_assembly(std::max(0.0, workers - std::max(stage, consumer)),
                          std::max(0.0, consumer - std::max(workers, stage)), interval);
    if (batch >= 300) {
      images += B;
      seconds += interval;
    }
  }
  return {split.share(), images / seconds};
}

}  // namespace

TEST_CASE("decode split: the assembler's waits correct a wrong model") {
  // The stage of the H200 runs: about 11 ms a batch + 0.01 ms an image. Its balance with the workers:
  // (B - g) c_cpu / W = a + g t.
  const double a = 11e-3, t = 0.01e-3;
  for (double c_cpu : {1.2e-3, 2.5e-3}) {  // 300-500 px and 640 x 480 JPEGs, per worker
    CAPTURE(c_cpu);
    const double g_star = (256 * c_cpu / 14 - a) / (t + c_cpu / 14);
    const double best = 256 / (a + g_star * t);
    for (double misreport : {1.0, 3.0, 0.5}) {
      CAPTURE(misreport);
      const auto [share, rate] = simulate(c_cpu, a, t, 0.0, misreport);
      // Within a few steps of the balance, whatever the fit said, and as fast to within 10 %.
      CHECK(share == doctest::Approx(g_star / 256).epsilon(0.15));
      CHECK(rate > 0.9 * best);
    }
  }
  // A slow consumer (the trainer, 40 ms a batch): the share stays near the balance, where both sides
  // have the most room to spare, instead of drifting to the edge where the workers only just keep up
  // (a share of 1 - 40 * 14 / (256 * 2.5) = 0.125).
  const double g_star = (256 * 2.5e-3 / 14 - a) / (t + 2.5e-3 / 14);
  const auto [share, rate] = simulate(2.5e-3, a, t, 40e-3, 1.0);
  CHECK(share == doctest::Approx(g_star / 256).epsilon(0.15));
  CHECK(rate == doctest::Approx(256 / 40e-3));
  // The old rule alone (no feedback) with a misreading fit stays far from the balance: what the
  // feedback is for.
  xp::DecodeSplit model_only;
  model_only.set_workers(14);
  model_only.to_stage(0, 256);
  for (int i = 0; i < 50; ++i) model_only.record_worker(2.5e-3, true);
  for (int i = 0; i < 50; ++i) model_only.record_stage(3.0 * (a + 128 * t), 128);
  CHECK(model_only.costs().model_share < 0.8 * g_star / 256);
}

TEST_CASE("batch decode: crops and flips become a plan whose decode equals the eager transforms") {
  load_augment();
  auto stage = std::make_shared<CpuStage>(1.0);
  const auto augment = crop_and_flip();
  for (int seed = 0; seed < 20; ++seed) {
    xp::Sample lazy, eager;
    const cv::Mat m = picture(61, 83, seed);
    lazy.encoded = std::make_shared<MatImage>(m, stage);
    eager.image = m.clone();
    xp::Rng r1 = xp::Rng::for_sample(7, 0, seed), r2 = xp::Rng::for_sample(7, 0, seed);
    for (const auto& a : augment) {
      a->apply(lazy, r1);
      a->apply(eager, r2);
    }
    REQUIRE(lazy.image.empty());
    const auto* planned = dynamic_cast<const xp::PlannedCrop*>(lazy.encoded.get());
    REQUIRE(planned);
    CHECK(planned->width() == 32);
    CHECK(planned->height() == 24);
    CHECK(cv::norm(planned->decode(), eager.image, cv::NORM_INF) == 0);
    const cv::Rect part(3, 4, 10, 9);
    CHECK(cv::norm(planned->decode(part), eager.image(part), cv::NORM_INF) == 0);
  }
  // Without a stage the crop decodes at once, as before.
  xp::Sample plain;
  plain.encoded = std::make_shared<MatImage>(picture(61, 83, 1), nullptr);
  xp::Rng rng = xp::Rng::for_sample(7, 0, 1);
  augment[0]->apply(plain, rng);
  CHECK_FALSE(plain.image.empty());
}

TEST_CASE("batch decode: the loader shares batches with the stage, same pixels, bad files skipped") {
  load_augment();
  const auto augment = crop_and_flip();
  xp::data::LoaderOptions o;
  o.batch_size = 8;
  o.seed = 3;
  o.deferred_conversion = xp::data::PixelConversion::unit_range();
  std::vector<int64_t> order;
  for (int64_t i = 0; i < 40; ++i) order.push_back(39 - i);
  for (int64_t workers : {0, 3}) {
    CAPTURE(workers);
    o.workers = workers;
    auto stage = std::make_shared<CpuStage>(0.5);
    auto reference_split = std::make_shared<PictureSplit>(40, nullptr, std::vector<size_t>{});
    auto staged_split = std::make_shared<PictureSplit>(40, stage, std::vector<size_t>{});
    xp::data::EpochLoader reference(reference_split, augment, o, 0, order), staged(staged_split, augment, o, 0, order);
    int batches = 0;
    while (auto a = reference.next()) {
      auto b = staged.next();
      REQUIRE(b);
      CHECK((b->input.scalar_type() == torch::kUInt8));
      CHECK(b->input.sizes() == a->input.sizes());
      CHECK(torch::equal(b->input, a->input));
      CHECK(torch::equal(b->target, a->target));
      CHECK(torch::equal(b->index, a->index));
      ++batches;
    }
    CHECK(batches == 5);
    CHECK_FALSE(staged.next());
    CHECK(stage->staged.load() == 20);  // half of every batch
  }
  // A file the stage cannot decode leaves its batch and is reported; the rest go on.
  auto stage = std::make_shared<CpuStage>(1.0);
  auto split = std::make_shared<PictureSplit>(16, stage, std::vector<size_t>{5});
  o.workers = 2;
  xp::data::EpochLoader loader(split, augment, o, 0, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15});
  auto b1 = loader.next(), b2 = loader.next();
  REQUIRE(b1);
  REQUIRE(b2);
  CHECK(b1->size() == 7);
  CHECK(b2->size() == 8);
  const int64_t* ix = b1->index.data_ptr<int64_t>();
  CHECK(std::vector<int64_t>(ix, ix + b1->size()) == std::vector<int64_t>{0, 1, 2, 3, 4, 6, 7});
  REQUIRE(loader.skipped().size() == 1);
  CHECK(loader.skipped()[0].index == 5);
  CHECK(loader.skipped()[0].source == "bad_5.jpg");
  // Without a deferred (device) conversion nothing is left to the stage.
  o.deferred_conversion.reset();
  auto unused = std::make_shared<CpuStage>(1.0);
  xp::data::EpochLoader cpu_only(std::make_shared<PictureSplit>(8, unused), augment, o, 0, {0, 1, 2, 3, 4, 5, 6, 7});
  REQUIRE(cpu_only.next());
  CHECK(unused->staged.load() == 0);
}

TEST_CASE("batch decode: decoder = nvjpeg_batched works or is refused clearly, gpu_share needs it") {
  try {
    xp_test::make<xp::Dataset>("image_folder", {{"root", "/nonexistent-xp-dir"}, {"decoder", "nvjpeg_batched"}});
  } catch (const xp::ConfigError& e) {
    const std::string m = e.what();
    // Refused for this build (no nvJPEG, or no nvcc for the crop kernel) or machine (no CUDA device) -
    // or, with both, for the folder.
    if (m.find("nvjpeg_batched") != std::string::npos) {
      CHECK(m.find("use decoder = \"cpu\"") != std::string::npos);
      CHECK((m.find("no nvJPEG") != std::string::npos || m.find("CUDA device") != std::string::npos ||
             m.find("no GPU crop kernel") != std::string::npos));
    }
  } catch (const std::exception&) {
    // nvJPEG is here: the missing folder is the error.
  }
  try {
    xp_test::make<xp::Dataset>("image_folder", {{"root", "/nonexistent-xp-dir"}, {"gpu_share", 0.5}});
    FAIL("gpu_share without nvjpeg_batched was accepted");
  } catch (const xp::ConfigError& e) {
    CHECK(std::string(e.what()).find("gpu_share applies to decoder = \"nvjpeg_batched\"") != std::string::npos);
  }
}
