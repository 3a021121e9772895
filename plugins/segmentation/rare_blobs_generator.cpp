#include "rare_blobs_generator.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "xp/rng.h"

namespace xp::seg {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kRadiusJitter = 0.25;  // radius uniform in R * [1 - j, 1 + j]
constexpr double kHarmonic = 0.2;       // each harmonic amplitude uniform in [-h, h]
constexpr uint64_t kLayoutStream = 1, kTextureStream = 2, kDemStream = 3, kNoiseBandStream = 4;

// Signatures in image units (image in [0,1]), times `signal`. The true object shifts red up and
// blue down and carries fine stripes; the shape look-alike shifts towards yellow without stripes.
const cv::Vec3f kObjectShift(0.075f, -0.005f, -0.06f);
const cv::Vec3f kShapeDistractorShift(0.06f, 0.06f, -0.01f);
constexpr double kStripeAmplitude = 0.03, kStripePeriod = 3.0;
constexpr double kRelativeDemZero = 32768.0;  // dem_relative: 0 m relative elevation, mid-range of uint16

// One octave of value noise: a (cells+1)^2 grid of uniform values, smoothly interpolated.
cv::Mat value_noise(Rng& rng, int size, int cells) {
  cv::Mat grid(cells + 1, cells + 1, CV_32F);
  for (int y = 0; y <= cells; ++y)
    for (int x = 0; x <= cells; ++x) grid.at<float>(y, x) = static_cast<float>(rng.uniform(-1.0, 1.0));
  cv::Mat out;
  cv::resize(grid, out, cv::Size(size, size), 0, 0, cv::INTER_CUBIC);
  return out;
}

cv::Mat fractal_noise(Rng& rng, int size) {
  cv::Mat sum = cv::Mat::zeros(size, size, CV_32F);
  double amplitude = 1.0;
  for (int cells = 2; cells <= std::max(2, size / 4); cells *= 2, amplitude *= 0.5)
    sum += amplitude * value_noise(rng, size, cells);
  return sum;
}

double blob_radius_at(const Blob& b, double theta) {
  double r = 1.0;
  for (int k = 0; k < 3; ++k) r += b.harmonics[k] * std::cos((k + 2) * theta + b.phases[k]);
  return b.radius * r;
}

}  // namespace

RareBlobsGenerator::RareBlobsGenerator(const RareBlobsOptions& o) : o_(o) {
  double mean_objects = 0.5 * (1.0 + static_cast<double>(o_.max_objects));
  double area = o_.positive_fraction * static_cast<double>(o_.image_size * o_.image_size) /
                (std::max(o_.object_tile_fraction, 1e-9) * mean_objects);
  // E[area] of a blob = pi R^2 E[u^2] E[1 + sum a_k^2 / 2] for the jitter u and harmonics a_k.
  double shape_factor = (1.0 + kRadiusJitter * kRadiusJitter / 3.0) * (1.0 + 1.5 * kHarmonic * kHarmonic / 3.0);
  radius_ = std::clamp(std::sqrt(area / (kPi * shape_factor)), 1.0, static_cast<double>(o_.image_size) / 8.0);
}

std::vector<Blob> RareBlobsGenerator::layout(int64_t split, int64_t index) const {
  Rng rng(Rng::mix(o_.seed, static_cast<uint64_t>(split), static_cast<uint64_t>(index), kLayoutStream));
  const double size = static_cast<double>(o_.image_size);
  auto shaped = [&](Blob::Kind kind) {
    Blob b;
    b.kind = kind;
    b.radius = radius_ * rng.uniform(1.0 - kRadiusJitter, 1.0 + kRadiusJitter);
    for (int k = 0; k < 3; ++k) {
      b.harmonics[k] = rng.uniform(-kHarmonic, kHarmonic);
      b.phases[k] = rng.uniform(0.0, 2.0 * kPi);
    }
    // Keep the whole blob inside the tile: the objects are what the tile is about.
    double margin = std::min(size / 2.0, b.radius * (1.0 + 3.0 * kHarmonic) + 1.0);
    b.cx = rng.uniform(margin, size - margin);
    b.cy = rng.uniform(margin, size - margin);
    b.angle = rng.uniform(0.0, kPi);
    return b;
  };

  std::vector<Blob> blobs;
  if (rng.bernoulli(o_.object_tile_fraction)) {
    int64_t n = rng.integer(1, std::max<int64_t>(1, o_.max_objects));
    for (int64_t i = 0; i < n; ++i) blobs.push_back(shaped(Blob::Object));
  }
  // floor(rate) look-alikes plus one more with the fractional part as probability.
  int64_t distractors = static_cast<int64_t>(o_.distractor_rate);
  if (rng.bernoulli(o_.distractor_rate - static_cast<double>(distractors))) ++distractors;
  for (int64_t i = 0; i < distractors; ++i) {
    double u = rng.uniform();
    if (u < 0.5) {
      blobs.push_back(shaped(Blob::ShapeDistractor));
    } else {
      Blob b = shaped(u < 0.75 ? Blob::Streak : Blob::Patch);
      if (b.kind == Blob::Streak) b.radius *= 2.5;  // half length
      if (b.kind == Blob::Patch) b.radius *= 3.0;   // a wide, soft region
      blobs.push_back(b);
    }
  }
  return blobs;
}

cv::Mat RareBlobsGenerator::blob_coverage(const Blob& b) const {
  const int size = static_cast<int>(o_.image_size);
  cv::Mat cover = cv::Mat::zeros(size, size, CV_32F);
  const double c = std::cos(b.angle), s = std::sin(b.angle);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      double dx = x - b.cx, dy = y - b.cy;
      double v = 0.0;
      switch (b.kind) {
        case Blob::Object:
        case Blob::ShapeDistractor: {
          double d = std::hypot(dx, dy);
          // Signed distance to the outline along the ray, half a pixel of anti-aliasing.
          v = std::clamp(blob_radius_at(b, std::atan2(dy, dx)) - d + 0.5, 0.0, 1.0);
          break;
        }
        case Blob::Streak: {
          double along = dx * c + dy * s, across = -dx * s + dy * c;
          v = std::clamp(1.2 - std::abs(across), 0.0, 1.0) * std::clamp(b.radius - std::abs(along) + 0.5, 0.0, 1.0);
          break;
        }
        case Blob::Patch:
          v = std::exp(-(dx * dx + dy * dy) / (2.0 * b.radius * b.radius)) * 0.8;
          break;
      }
      cover.at<float>(y, x) = static_cast<float>(v);
    }
  return cover;
}

cv::Mat RareBlobsGenerator::mask(const std::vector<Blob>& blobs) const {
  const int size = static_cast<int>(o_.image_size);
  cv::Mat m = cv::Mat::zeros(size, size, CV_8U);
  for (const auto& b : blobs) {
    if (b.kind != Blob::Object) continue;
    cv::Mat inside = blob_coverage(b) >= 0.5f;  // 255 where the pixel centre is inside
    m.setTo(1, inside);
  }
  return m;
}

cv::Mat RareBlobsGenerator::image(int64_t split, int64_t index, const std::vector<Blob>& blobs) const {
  Rng rng(Rng::mix(o_.seed, static_cast<uint64_t>(split), static_cast<uint64_t>(index), kTextureStream));
  const int size = static_cast<int>(o_.image_size);

  // Background: an earthy base colour, two noise fields mixed into the channels, a gradient.
  cv::Mat f1 = fractal_noise(rng, size), f2 = fractal_noise(rng, size);
  cv::Vec3f base(static_cast<float>(rng.uniform(0.35, 0.55)), static_cast<float>(rng.uniform(0.3, 0.5)),
                 static_cast<float>(rng.uniform(0.22, 0.42)));
  cv::Vec3f w1(1.0f, 0.9f, 0.75f), w2;
  for (int k = 0; k < 3; ++k) w2[k] = static_cast<float>(rng.uniform(-0.5, 0.5));
  double gx = rng.uniform(-1.0, 1.0), gy = rng.uniform(-1.0, 1.0);
  const float texture = 0.1f, gradient = 0.12f;

  cv::Mat img(size, size, CV_32FC3);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      float g = gradient * static_cast<float>(gx * (x / double(size) - 0.5) + gy * (y / double(size) - 0.5));
      cv::Vec3f v;
      for (int k = 0; k < 3; ++k)
        v[k] = base[k] + texture * (w1[k] * f1.at<float>(y, x) + w2[k] * f2.at<float>(y, x)) + g;
      img.at<cv::Vec3f>(y, x) = v;
    }

  const float signal = static_cast<float>(o_.signal);
  for (const auto& b : blobs) {
    cv::Mat cover = blob_coverage(b);
    bool stripes = b.kind == Blob::Object || b.kind == Blob::Patch;
    cv::Vec3f shift = b.kind == Blob::ShapeDistractor ? kShapeDistractorShift : kObjectShift;
    double c = std::cos(b.angle), s = std::sin(b.angle);
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        float a = cover.at<float>(y, x);
        if (a <= 0.0f) continue;
        float stripe = stripes ? static_cast<float>(kStripeAmplitude *
                                                    std::sin(2.0 * kPi * (x * c + y * s) / kStripePeriod))
                               : 0.0f;
        cv::Vec3f& v = img.at<cv::Vec3f>(y, x);
        for (int k = 0; k < 3; ++k) v[k] += a * signal * (shift[k] + stripe);
      }
  }

  cv::Mat out(size, size, CV_8UC3);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const cv::Vec3f& v = img.at<cv::Vec3f>(y, x);
      cv::Vec3b& o = out.at<cv::Vec3b>(y, x);
      for (int k = 0; k < 3; ++k)
        o[k] = cv::saturate_cast<uchar>(255.0 * (v[k] + rng.normal(0.0, o_.noise)));
    }
  return out;
}

cv::Mat RareBlobsGenerator::dem(int64_t split, int64_t index, const std::vector<Blob>& blobs) const {
  Rng rng(Rng::mix(o_.seed, static_cast<uint64_t>(split), static_cast<uint64_t>(index), kDemStream));
  const int size = static_cast<int>(o_.image_size);
  cv::Mat terrain = fractal_noise(rng, size);  // smooth, about [-1.5, 1.5]
  const double base = rng.uniform(15000.0, 25000.0), relief = rng.uniform(150.0, 400.0);
  const double gx = rng.uniform(-300.0, 300.0), gy = rng.uniform(-300.0, 300.0);
  cv::Mat z(size, size, CV_64F);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      z.at<double>(y, x) = base + relief * terrain.at<float>(y, x) + gx * (x / double(size) - 0.5) +
                           gy * (y / double(size) - 0.5);
  // Depressions: the objects, and natural sinks of the same size placed by the DEM's own stream.
  std::vector<Blob> sinks;
  for (const auto& b : blobs)
    if (b.kind == Blob::Object) sinks.push_back(b);
  int64_t natural = static_cast<int64_t>(o_.dem_sinks);
  if (rng.bernoulli(o_.dem_sinks - static_cast<double>(natural))) ++natural;
  for (int64_t i = 0; i < natural; ++i) {
    Blob b;
    b.kind = Blob::Object;
    b.radius = radius_ * rng.uniform(1.0 - kRadiusJitter, 1.0 + kRadiusJitter);
    b.cx = rng.uniform(b.radius, size - b.radius);
    b.cy = rng.uniform(b.radius, size - b.radius);
    sinks.push_back(b);
  }
  for (const auto& b : sinks) {
    cv::Mat cover = blob_coverage(b);
    cv::GaussianBlur(cover, cover, cv::Size(0, 0), 0.8);  // a bowl, not a step
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) z.at<double>(y, x) -= o_.dem_depth * cover.at<float>(y, x);
  }
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) z.at<double>(y, x) += rng.normal(0.0, o_.dem_noise);
  if (o_.dem_relative) {
    // Relative elevation: each pixel minus the mean elevation of the dem_window x dem_window
    // pixels around it (mirrored at the tile's edges), stored around kRelativeDemZero. Removes the
    // tile's elevation (a kilometre-scale offset between tiles), its slope and its broad relief,
    // which otherwise set the band's scale after split-level normalization and leave a 3 m
    // depression at about 1 % of a standard deviation (docs/segmentation.md, "The fusion study").
    const int window = static_cast<int>(std::min<int64_t>(o_.dem_window | 1, size % 2 ? size : size - 1));  // odd
    cv::Mat local;
    cv::blur(z, local, cv::Size(window, window), cv::Point(-1, -1), cv::BORDER_REFLECT);
    z = z - local + kRelativeDemZero;
  }
  cv::Mat out(size, size, CV_16U);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) out.at<uint16_t>(y, x) = cv::saturate_cast<uint16_t>(z.at<double>(y, x));
  return out;
}

cv::Mat RareBlobsGenerator::noise_band(int64_t split, int64_t index) const {
  Rng rng(Rng::mix(o_.seed, static_cast<uint64_t>(split), static_cast<uint64_t>(index), kNoiseBandStream));
  const int size = static_cast<int>(o_.image_size);
  cv::Mat f = fractal_noise(rng, size);
  cv::Mat out(size, size, CV_16U);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      out.at<uint16_t>(y, x) = cv::saturate_cast<uint16_t>(30000.0 + 8000.0 * f.at<float>(y, x) + rng.normal(0.0, 800.0));
  return out;
}

}  // namespace xp::seg
