#pragma once
// The generated leaves behind the `synthetic_leaves` dataset: a two-level classification where the
// species is the leaf's shape and hue, and the disease its lesion pattern, with a different set of
// diseases per species (so the leaf classes are unevenly frequent, as in real plant data).
//
//   species  shape                 diseases
//   birch    ovate, mid green      blight, healthy, spots, stripes
//   fig      cordate, dark green   blight, healthy, rust, spots, stripes
//   maple    five lobes, yellowish healthy, rust, spots
//   willow   narrow, blue-green    healthy, rust
//
// Lesions: spots = a few dark spots with yellow halos; stripes = pale streaks along the axis;
// rust = many tiny orange pustules; blight = brown necrosis eating in from one side of the edge.
// Nuisances: position, rotation, size, hue and brightness jitter, a lighting gradient, a textured
// soil/grass background, pixel noise. Species are drawn uniformly, then a disease uniformly.
//
// Each image is a pure function of (seed, split, index); the label comes from its own Rng stream,
// so Split::label() needs no rendering.

#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace xp::hierarchical {

struct SyntheticLeavesOptions {
  uint64_t seed = 0;
  int64_t image_size = 64;
  double noise = 0.04;            // pixel noise std (image in [0,1])
  double lesion_contrast = 1.0;   // strength of the lesion colours; lower = harder
};

class SyntheticLeavesGenerator {
 public:
  explicit SyntheticLeavesGenerator(const SyntheticLeavesOptions& options) : o_(options) {}

  // "species/disease", sorted (species in alphabetical order, their diseases too).
  static const std::vector<std::string>& class_names();
  // The leaf class of an item, without rendering.
  int64_t label(int64_t split, int64_t index) const;
  // H x W x 3 CV_8U (RGB).
  cv::Mat image(int64_t split, int64_t index) const;

 private:
  SyntheticLeavesOptions o_;
};

}  // namespace xp::hierarchical
