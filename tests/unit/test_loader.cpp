// The data loader: order independent of workers and timing, bad samples skipped and reported,
// collation rules.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "data/collate.h"
#include "data/data_loader.h"
#include "xp/errors.h"

namespace {

using xp::data::EpochLoader;
using xp::data::LoaderOptions;

// Image i is a 2x3 single-channel image filled with i; label i % 3. Indices in `bad` throw
// xp::BadSample; loads sleep a little, longer for even indices, to shuffle worker timing.
class CountingSplit : public xp::Split {
 public:
  explicit CountingSplit(size_t n, std::vector<size_t> bad = {}) : n_(n), bad_(std::move(bad)) {}
  size_t size() const override { return n_; }
  xp::Sample load(size_t i) const override {
    std::this_thread::sleep_for(std::chrono::microseconds(i % 2 == 0 ? 300 : 20));
    for (size_t b : bad_)
      if (b == i) throw xp::BadSample("img_" + std::to_string(i) + ".png", "truncated file");
    xp::Sample s;
    s.image = cv::Mat(2, 3, CV_8UC1, cv::Scalar(static_cast<double>(i % 256)));
    s.label = static_cast<int64_t>(i % 3);
    s.source = "img_" + std::to_string(i) + ".png";
    return s;
  }

 private:
  size_t n_;
  std::vector<size_t> bad_;
};

// Adds uniform noise drawn from the sample's Rng: shows which Rng a sample got.
class NoiseAugmentation : public xp::Augmentation {
 public:
  void apply(xp::Sample& s, xp::Rng& rng) const override {
    cv::Mat f;
    s.image.convertTo(f, CV_32F, 1.0 / 255.0);
    f += cv::Scalar(rng.uniform(0.0, 1.0));
    s.image = f;
  }
};

std::vector<int64_t> reversed(int64_t n) {
  std::vector<int64_t> order;
  for (int64_t i = n - 1; i >= 0; --i) order.push_back(i);
  return order;
}

std::vector<xp::Batch> drain(EpochLoader& loader) {
  std::vector<xp::Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

}  // namespace

TEST_CASE("loader: batches follow the sampler order for any number of workers") {
  auto split = std::make_shared<CountingSplit>(37);
  std::vector<std::shared_ptr<xp::Augmentation>> augment{std::make_shared<NoiseAugmentation>()};
  std::vector<std::vector<xp::Batch>> runs;
  for (int64_t workers : {0, 1, 3, 5}) {
    LoaderOptions o;
    o.batch_size = 4;
    o.workers = workers;
    o.prefetch = 2;
    o.seed = 7;
    EpochLoader loader(split, augment, o, 2, reversed(37));
    CHECK(loader.expected_batches() == 10);
    runs.push_back(drain(loader));
  }
  for (const auto& run : runs) {
    REQUIRE(run.size() == 10);  // 9 full batches and the last one with one sample
    CHECK(run.back().size() == 1);
    CHECK(run[0].index[0].item<int64_t>() == 36);
    CHECK(run[0].index[3].item<int64_t>() == 33);
    for (size_t b = 0; b < run.size(); ++b) {
      CHECK(torch::equal(run[b].input, runs[0][b].input));  // same augmentation draws
      CHECK(torch::equal(run[b].index, runs[0][b].index));
    }
  }
  // Another epoch draws other augmentations for the same positions.
  LoaderOptions o;
  o.batch_size = 4;
  o.seed = 7;
  EpochLoader other(split, augment, o, 3, reversed(37));
  CHECK_FALSE(torch::equal(other.next()->input, runs[0][0].input));
}

TEST_CASE("loader: drop_last drops the incomplete batch") {
  auto split = std::make_shared<CountingSplit>(10);
  for (int64_t workers : {0, 2}) {
    LoaderOptions o;
    o.batch_size = 4;
    o.drop_last = true;
    o.workers = workers;
    EpochLoader loader(split, {}, o, 0, reversed(10));
    auto batches = drain(loader);
    CHECK(batches.size() == 2);
  }
}

TEST_CASE("loader: bad samples are skipped, reported and their places filled") {
  auto split = std::make_shared<CountingSplit>(12, std::vector<size_t>{2, 3, 7});
  std::vector<int64_t> order;
  for (int64_t i = 0; i < 12; ++i) order.push_back(i);
  for (int64_t workers : {0, 3}) {
    LoaderOptions o;
    o.batch_size = 4;
    o.workers = workers;
    EpochLoader loader(split, {}, o, 0, order);
    auto batches = drain(loader);
    REQUIRE(batches.size() == 3);  // 9 good samples: 4 + 4 + 1
    CHECK(torch::equal(batches[0].index, torch::tensor({0, 1, 4, 5}, torch::kInt64)));
    CHECK(torch::equal(batches[1].index, torch::tensor({6, 8, 9, 10}, torch::kInt64)));
    CHECK(batches[2].size() == 1);
    auto skipped = loader.skipped();
    REQUIRE(skipped.size() == 3);
    CHECK(skipped[0].index == 2);
    CHECK(skipped[0].source == "img_2.png");
    CHECK(skipped[2].reason.find("truncated") != std::string::npos);
  }
}

TEST_CASE("loader: a dataset error other than BadSample reaches the consumer") {
  class Broken : public xp::Split {
   public:
    size_t size() const override { return 20; }
    xp::Sample load(size_t i) const override {
      if (i == 9) throw std::runtime_error("disk on fire");
      xp::Sample s;
      s.image = cv::Mat(2, 2, CV_8UC1, cv::Scalar(1));
      s.label = 0;
      return s;
    }
  };
  auto split = std::make_shared<Broken>();
  std::vector<int64_t> order;
  for (int64_t i = 0; i < 20; ++i) order.push_back(i);
  for (int64_t workers : {0, 2}) {
    LoaderOptions o;
    o.batch_size = 4;
    o.workers = workers;
    EpochLoader loader(split, {}, o, 0, order);
    CHECK_THROWS_WITH(drain(loader), doctest::Contains("disk on fire"));
  }
}

TEST_CASE("loader: stopping early joins the workers") {
  auto split = std::make_shared<CountingSplit>(400);
  LoaderOptions o;
  o.batch_size = 2;
  o.workers = 3;
  o.prefetch = 1;
  EpochLoader loader(split, {}, o, 0, reversed(400));
  CHECK(loader.next().has_value());
  // Destructor runs here with most of the epoch unread; the test passes if it returns.
}

TEST_CASE("collate: uint8 images scaled, float images kept, masks and labels stacked") {
  xp::Sample a, b;
  a.image = cv::Mat(2, 2, CV_8UC3, cv::Scalar(255, 0, 51));
  b.image = cv::Mat(2, 2, CV_8UC3, cv::Scalar(0, 255, 0));
  a.mask = cv::Mat(2, 2, CV_8UC1, cv::Scalar(1));
  b.mask = cv::Mat(2, 2, CV_8UC1, cv::Scalar(255));
  a.label = 3;
  b.label = 1;
  a.labels["species"] = 4;
  b.labels["species"] = 5;
  auto pa = xp::data::prepare_sample(a), pb = xp::data::prepare_sample(b);
  auto cls = xp::data::collate({pa, pb}, xp::Task::Classification);
  CHECK(cls.input.sizes() == torch::IntArrayRef({2, 3, 2, 2}));
  CHECK(cls.input.dtype() == torch::kFloat32);
  CHECK(cls.input[0][0][0][0].item<float>() == doctest::Approx(1.0));
  CHECK(cls.input[0][2][1][1].item<float>() == doctest::Approx(0.2));
  CHECK(cls.target.dtype() == torch::kInt64);
  CHECK(torch::equal(cls.target, torch::tensor({3, 1}, torch::kInt64)));
  CHECK(torch::equal(cls.extra.at("species"), torch::tensor({4, 5}, torch::kInt64)));
  auto seg = xp::data::collate({pa, pb}, xp::Task::Segmentation);
  CHECK(seg.target.sizes() == torch::IntArrayRef({2, 1, 2, 2}));
  CHECK(seg.target[1][0][0][0].item<float>() == 255.0f);  // the ignore value survives

  xp::Sample f;
  f.image = cv::Mat(2, 2, CV_32FC3, cv::Scalar(-1.5, 0.5, 2.0));
  auto pf = xp::data::prepare_sample(f);
  CHECK(pf.image[0][0][0].item<float>() == -1.5f);  // already normalized: not divided by 255

  xp::Sample big;
  big.image = cv::Mat(3, 2, CV_8UC3, cv::Scalar(0));
  big.source = "big.png";
  CHECK_THROWS_WITH(xp::data::collate({pa, xp::data::prepare_sample(big)}, xp::Task::Classification),
                    doctest::Contains("big.png"));
}

TEST_CASE("collate: deferred conversion keeps uint8 NHWC batches and converts them like the CPU path") {
  using xp::data::PixelConversion;
  xp::Sample a, b;
  a.image = cv::Mat(2, 3, CV_8UC3, cv::Scalar(255, 0, 51));
  b.image = cv::Mat(2, 3, CV_8UC3, cv::Scalar(10, 128, 200));
  b.image.at<cv::Vec3b>(1, 2) = cv::Vec3b(7, 8, 9);
  const auto normalize = PixelConversion::normalize({0.5, 0.4, 0.3}, {0.2, 0.25, 0.5}, 255.0);
  auto batch = xp::data::collate({xp::data::prepare_sample(a, &normalize), xp::data::prepare_sample(b, &normalize)},
                                 xp::Task::Classification, false, &normalize);
  CHECK(batch.input.dtype() == torch::kUInt8);
  CHECK(batch.input.sizes() == torch::IntArrayRef({2, 2, 3, 3}));  // N, H, W, C
  CHECK(batch.input[1][1][2][2].item<int>() == 9);

  torch::Tensor x = normalize.apply(batch.input);
  CHECK(x.sizes() == torch::IntArrayRef({2, 3, 2, 3}));
  CHECK(x.dtype() == torch::kFloat32);
  CHECK(x.is_contiguous(torch::MemoryFormat::ChannelsLast));
  // The CPU path: (v / 255 - mean) / std per channel.
  CHECK(x[0][0][0][0].item<float>() == doctest::Approx((255 / 255.0 - 0.5) / 0.2));
  CHECK(x[0][2][1][1].item<float>() == doctest::Approx((51 / 255.0 - 0.3) / 0.5));
  CHECK(x[1][1][1][2].item<float>() == doctest::Approx((8 / 255.0 - 0.4) / 0.25));

  // Without a normalize the deferred conversion is the loader's v / 255: equal to the float path.
  const auto unit = PixelConversion::unit_range();
  auto plain = xp::data::collate({xp::data::prepare_sample(a), xp::data::prepare_sample(b)}, xp::Task::Classification);
  auto deferred = xp::data::collate({xp::data::prepare_sample(a, &unit), xp::data::prepare_sample(b, &unit)},
                                    xp::Task::Classification, false, &unit);
  CHECK(torch::allclose(unit.apply(deferred.input), plain.input, 1e-6, 1e-7));

  // A float sample in a deferred pipeline: a deferred normalize still applies to it (as the CPU
  // `normalize` would have), v / 255 does not; a mixed batch comes out float NCHW.
  xp::Sample f;
  f.image = cv::Mat(2, 3, CV_32FC3, cv::Scalar(0.5, 0.4, 0.3));
  auto pf = xp::data::prepare_sample(f, &normalize);
  CHECK(pf.image.dtype() == torch::kFloat32);
  CHECK(pf.image[0][0][0].item<float>() == doctest::Approx((0.5 / 255.0 - 0.5) / 0.2));
  CHECK(xp::data::prepare_sample(f, &unit).image[0][0][0].item<float>() == doctest::Approx(0.5));
  auto mixed = xp::data::collate({xp::data::prepare_sample(a, &normalize), pf}, xp::Task::Classification, false,
                                 &normalize);
  CHECK(mixed.input.dtype() == torch::kFloat32);
  CHECK(mixed.input.sizes() == torch::IntArrayRef({2, 3, 2, 3}));
  CHECK(torch::allclose(mixed.input[0], x[0]));

  // Channel mismatch is a clear error.
  const auto grey = PixelConversion::normalize({0.5, 0.5}, {0.2, 0.2}, 255.0);
  CHECK_THROWS_WITH(grey.apply(batch.input), doctest::Contains("3 channels"));
}

TEST_CASE("loader: deferred conversion gives uint8 batches with any number of workers") {
  auto split = std::make_shared<CountingSplit>(40);
  const auto unit = xp::data::PixelConversion::unit_range();
  std::vector<xp::Batch> reference;
  for (int64_t workers : {0, 3}) {
    LoaderOptions o;
    o.batch_size = 8;
    o.workers = workers;
    o.deferred_conversion = unit;
    EpochLoader loader(split, {}, o, 0, reversed(40));
    auto batches = drain(loader);
    REQUIRE(batches.size() == 5);
    CHECK(batches[0].input.dtype() == torch::kUInt8);
    CHECK(batches[0].input.sizes() == torch::IntArrayRef({8, 2, 3, 1}));
    CHECK(batches[0].input[0][0][0][0].item<int>() == 39);
    if (reference.empty()) reference = batches;
    for (size_t i = 0; i < batches.size(); ++i) CHECK(torch::equal(batches[i].input, reference[i].input));
  }
}
