#include "synthetic_leaves_generator.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "xp/rng.h"

namespace xp::hierarchical {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr uint64_t kLabelStream = 1, kSceneStream = 2, kPixelStream = 3;

enum class Shape { Ovate, Cordate, Lobed, Narrow };
enum class Lesion { Healthy, Spots, Stripes, Rust, Blight };

struct Species {
  const char* name;
  Shape shape;
  cv::Vec3f colour;  // RGB in [0,1]
  std::vector<std::pair<const char*, Lesion>> diseases;  // alphabetical
};

// Hues overlap within the jitter (birch and maple especially), so shape has to be learned too.
const std::vector<Species>& species_table() {
  static const std::vector<Species> table = {
      {"birch", Shape::Ovate, {0.36f, 0.58f, 0.20f},
       {{"blight", Lesion::Blight}, {"healthy", Lesion::Healthy}, {"spots", Lesion::Spots}, {"stripes", Lesion::Stripes}}},
      {"fig", Shape::Cordate, {0.20f, 0.44f, 0.16f},
       {{"blight", Lesion::Blight}, {"healthy", Lesion::Healthy}, {"rust", Lesion::Rust}, {"spots", Lesion::Spots},
        {"stripes", Lesion::Stripes}}},
      {"maple", Shape::Lobed, {0.46f, 0.60f, 0.16f},
       {{"healthy", Lesion::Healthy}, {"rust", Lesion::Rust}, {"spots", Lesion::Spots}}},
      {"willow", Shape::Narrow, {0.28f, 0.52f, 0.36f}, {{"healthy", Lesion::Healthy}, {"rust", Lesion::Rust}}},
  };
  return table;
}

// Outline radius (in units of the leaf's half length) in the direction theta of the leaf frame,
// theta = 0 pointing at the tip.
double outline(Shape shape, double theta) {
  auto ellipse = [theta](double b) {
    const double c = std::cos(theta), s = std::sin(theta) / b;
    return 1.0 / std::sqrt(c * c + s * s);
  };
  switch (shape) {
    case Shape::Ovate: return ellipse(0.58) * (1.0 - 0.08 * std::cos(theta));  // wider towards the base
    case Shape::Narrow: return ellipse(0.22);
    case Shape::Cordate: {
      const double base = std::abs(theta) - kPi;  // 0 at the base
      return ellipse(0.85) * (1.0 - 0.45 * std::exp(-base * base / 0.09)) * (1.0 + 0.12 * std::exp(-theta * theta / 0.06));
    }
    case Shape::Lobed: return 0.55 + 0.45 * std::pow(0.5 + 0.5 * std::cos(5.0 * theta), 0.6);
  }
  return 1.0;
}

// Smooth background texture: a coarse random grid, bicubically enlarged.
cv::Mat value_noise(Rng& rng, int size, int cells) {
  cv::Mat grid(cells + 1, cells + 1, CV_32F);
  for (int y = 0; y <= cells; ++y)
    for (int x = 0; x <= cells; ++x) grid.at<float>(y, x) = static_cast<float>(rng.uniform(-1.0, 1.0));
  cv::Mat out;
  cv::resize(grid, out, cv::Size(size, size), 0, 0, cv::INTER_CUBIC);
  return out;
}

struct Disc {
  double u, v, r;  // leaf frame, units of the half length
};

}  // namespace

const std::vector<std::string>& SyntheticLeavesGenerator::class_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& s : species_table())
      for (const auto& d : s.diseases) out.push_back(std::string(s.name) + "/" + d.first);
    return out;
  }();
  return names;
}

int64_t SyntheticLeavesGenerator::label(int64_t split, int64_t index) const {
  Rng rng(Rng::mix(o_.seed, static_cast<uint64_t>(split), static_cast<uint64_t>(index), kLabelStream));
  const auto& table = species_table();
  const int64_t s = rng.integer(0, static_cast<int64_t>(table.size()) - 1);
  const int64_t d = rng.integer(0, static_cast<int64_t>(table[s].diseases.size()) - 1);
  int64_t leaf = d;
  for (int64_t i = 0; i < s; ++i) leaf += static_cast<int64_t>(table[i].diseases.size());
  return leaf;
}

cv::Mat SyntheticLeavesGenerator::image(int64_t split, int64_t index) const {
  const int64_t leaf = label(split, index);
  const auto& table = species_table();
  int64_t s = 0, d = leaf;
  while (d >= static_cast<int64_t>(table[s].diseases.size())) d -= static_cast<int64_t>(table[s++].diseases.size());
  const Species& species = table[s];
  const Lesion lesion = species.diseases[d].second;

  Rng rng(Rng::mix(o_.seed, static_cast<uint64_t>(split), static_cast<uint64_t>(index), kSceneStream));
  const int size = static_cast<int>(o_.image_size);
  const double n = static_cast<double>(size);

  // Scene: where the leaf is, its size, orientation and colour, the light.
  const double cx = n * (0.5 + rng.uniform(-0.12, 0.12)), cy = n * (0.5 + rng.uniform(-0.12, 0.12));
  const double half_length = n * rng.uniform(0.30, 0.42);
  const double angle = rng.uniform(0.0, 2.0 * kPi), ca = std::cos(angle), sa = std::sin(angle);
  cv::Vec3f leaf_colour;
  for (int k = 0; k < 3; ++k) leaf_colour[k] = species.colour[k] + static_cast<float>(rng.uniform(-0.07, 0.07));
  const double brightness = rng.uniform(0.7, 1.25);
  const double gx = rng.uniform(-0.25, 0.25), gy = rng.uniform(-0.25, 0.25);
  const bool grass = rng.bernoulli(0.5);
  const cv::Vec3f ground = grass ? cv::Vec3f(0.30f, 0.40f, 0.18f) : cv::Vec3f(0.42f, 0.32f, 0.22f);
  cv::Mat texture = value_noise(rng, size, 4) * 0.6 + value_noise(rng, size, 12) * 0.4;

  // Lesions, in the leaf frame so they turn with it.
  const double contrast = o_.lesion_contrast;
  std::vector<Disc> discs;
  auto inside_point = [&](double margin) {
    for (;;) {
      const double u = rng.uniform(-0.9, 0.9), v = rng.uniform(-0.9, 0.9);
      if (std::hypot(u, v) < margin * outline(species.shape, std::atan2(v, u))) return std::make_pair(u, v);
    }
  };
  if (lesion == Lesion::Spots) {
    for (int64_t i = 0, count = rng.integer(3, 7); i < count; ++i) {
      auto [u, v] = inside_point(0.75);
      discs.push_back({u, v, rng.uniform(0.06, 0.11)});
    }
  } else if (lesion == Lesion::Rust) {
    for (int64_t i = 0, count = rng.integer(18, 36); i < count; ++i) {
      auto [u, v] = inside_point(0.9);
      discs.push_back({u, v, rng.uniform(0.035, 0.06)});
    }
  } else if (lesion == Lesion::Stripes) {
    const double width = species.shape == Shape::Narrow ? 0.05 : 0.07;
    for (int64_t i = 0, count = rng.integer(2, 3); i < count; ++i)
      discs.push_back({rng.uniform(-0.6, -0.1), rng.uniform(-0.45, 0.45), width});  // u = start of the streak
  }
  const double blight_centre = rng.uniform(-kPi, kPi), blight_width = rng.uniform(0.9, 1.6);
  const double blight_depth = rng.uniform(0.35, 0.55), blight_phase = rng.uniform(0.0, 2.0 * kPi);

  const cv::Vec3f spot_colour(0.28f, 0.18f, 0.08f), halo_colour(0.78f, 0.72f, 0.22f),
      stripe_colour(0.82f, 0.80f, 0.40f), rust_colour(0.86f, 0.46f, 0.10f), blight_colour(0.42f, 0.28f, 0.12f);
  auto blend = [contrast](cv::Vec3f& v, const cv::Vec3f& target, double a) {
    const float w = static_cast<float>(std::clamp(a * contrast, 0.0, 1.0));
    v = v * (1.0f - w) + target * w;
  };

  Rng pixel_rng(Rng::mix(o_.seed, static_cast<uint64_t>(split), static_cast<uint64_t>(index), kPixelStream));
  cv::Mat out(size, size, CV_8UC3);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const double t = texture.at<float>(y, x);
      cv::Vec3f v = ground * static_cast<float>(1.0 + 0.35 * t);
      // Leaf frame: u along the axis towards the tip, v across, both in half lengths.
      const double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
      const double u = (dx * ca + dy * sa) / half_length, w = (-dx * sa + dy * ca) / half_length;
      const double rho = std::hypot(u, w), theta = std::atan2(w, u);
      const double edge = outline(species.shape, theta);
      const double cover = std::clamp((edge - rho) * half_length + 0.5, 0.0, 1.0);
      // The stalk: a thin dark-green line out of the base.
      const double stalk_from = outline(species.shape, kPi);
      if (u < -stalk_from * 0.9 && u > -stalk_from - 0.35 && std::abs(w) * half_length < 0.7)
        v = v * 0.1f + cv::Vec3f(0.25f, 0.35f, 0.12f) * 0.9f;
      if (cover > 0.0) {
        cv::Vec3f c = leaf_colour * static_cast<float>(1.0 + 0.08 * t);
        if (std::abs(w) * half_length < 0.6 && u > -edge) c = c * 1.12f;  // midrib
        const double radial = rho / std::max(edge, 1e-6);                   // 0 centre, 1 edge
        switch (lesion) {
          case Lesion::Healthy: break;
          case Lesion::Spots:
            for (const auto& disc : discs) {
              const double r = std::hypot(u - disc.u, w - disc.v);
              if (r < disc.r) blend(c, spot_colour, 0.95);
              else if (r < 1.7 * disc.r) blend(c, halo_colour, 0.6);
            }
            break;
          case Lesion::Rust:
            for (const auto& disc : discs)
              if (std::hypot(u - disc.u, w - disc.v) < disc.r) blend(c, rust_colour, 0.9);
            break;
          case Lesion::Stripes:
            for (const auto& disc : discs)
              if (std::abs(w - disc.v) < disc.r && u > disc.u && u < disc.u + 0.8) blend(c, stripe_colour, 0.7);
            break;
          case Lesion::Blight: {
            double off = std::remainder(theta - blight_centre, 2.0 * kPi) / blight_width;
            const double reach = blight_depth * std::exp(-off * off * 2.0) * (1.0 + 0.2 * std::sin(6.0 * theta + blight_phase));
            if (radial > 1.0 - reach) blend(c, blight_colour, 0.9);
            else if (radial > 1.0 - reach - 0.08) blend(c, halo_colour, 0.5);
            break;
          }
        }
        for (int k = 0; k < 3; ++k) v[k] = static_cast<float>(v[k] * (1.0 - cover) + c[k] * cover);
      }
      const double light = brightness * (1.0 + gx * (x / n - 0.5) + gy * (y / n - 0.5));
      cv::Vec3b& o = out.at<cv::Vec3b>(y, x);
      for (int k = 0; k < 3; ++k)
        o[k] = cv::saturate_cast<uchar>(255.0 * (v[k] * light + pixel_rng.normal(0.0, o_.noise)));
    }
  return out;
}

}  // namespace xp::hierarchical
