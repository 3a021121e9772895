// dataset "toy_stripes": generated images of horizontal (class 0) or vertical (class 1) stripes
// with noise. Every sample is a pure function of (seed, split, index), so loading is thread-safe
// and needs no files.
#include <random>

#include <opencv2/core.hpp>

#include "xp/plugin.h"

namespace {

class StripesSplit : public xp::Split {
 public:
  StripesSplit(int64_t size, int64_t image_size, double noise, uint64_t seed)
      : size_(size), image_size_(image_size), noise_(noise), seed_(seed) {}
  size_t size() const override { return static_cast<size_t>(size_); }
  int64_t label(size_t index) const override { return static_cast<int64_t>(index % 2); }

  xp::Sample load(size_t index) const override {
    std::mt19937_64 gen(seed_ * 1000003u + index);
    std::normal_distribution<float> noise(0.0f, static_cast<float>(noise_) * 255.0f);
    const int n = static_cast<int>(image_size_);
    const int64_t cls = label(index);
    const int phase = static_cast<int>(gen() % 4);
    xp::Sample s;
    s.image = cv::Mat(n, n, CV_8UC3);
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x) {
        const int along = cls == 0 ? y : x;
        const float base = ((along + phase) / 2) % 2 ? 200.0f : 55.0f;
        const auto v = cv::saturate_cast<uint8_t>(base + noise(gen));
        s.image.at<cv::Vec3b>(y, x) = cv::Vec3b(v, v, v);
      }
    s.label = cls;
    s.index = static_cast<int64_t>(index);
    s.source = "toy_stripes:" + std::to_string(index);
    return s;
  }

 private:
  int64_t size_, image_size_;
  double noise_;
  uint64_t seed_;
};

class ToyStripes : public xp::Dataset {
 public:
  static xp::Schema schema() {
    return xp::Schema("generated horizontal vs vertical stripes (2 classes), no files needed")
        .add_int("train_size", 512, "training samples").min(2)
        .add_int("val_size", 128, "validation samples").min(0)
        .add_int("test_size", 128, "test samples").min(0)
        .add_int("image_size", 16, "height and width in pixels").range(4, 512)
        .add_float("noise", 0.1, "Gaussian noise, as a fraction of the full range").range(0.0, 1.0);
  }
  explicit ToyStripes(const xp::Params& p)
      : train_(p.get_int("train_size")), val_(p.get_int("val_size")), test_(p.get_int("test_size")),
        image_size_(p.get_int("image_size")), noise_(p.get_float("noise")) {}

  xp::DatasetInfo info() const override {
    xp::DatasetInfo i;
    i.num_classes = 2;
    i.class_names = {"horizontal", "vertical"};
    return i;
  }

  std::shared_ptr<xp::Split> split(const std::string& name) override {
    // Different seeds per split: the test images are not the training images.
    if (name == "train") return std::make_shared<StripesSplit>(train_, image_size_, noise_, 1);
    if (name == "val" && val_ > 0) return std::make_shared<StripesSplit>(val_, image_size_, noise_, 2);
    if (name == "test" && test_ > 0) return std::make_shared<StripesSplit>(test_, image_size_, noise_, 3);
    throw xp::ConfigError("toy_stripes has no '" + name + "' split");
  }

 private:
  int64_t train_, val_, test_, image_size_;
  double noise_;
};

}  // namespace

XP_REGISTER_DATASET("toy_stripes", ToyStripes);
