#pragma once
// The synthetic rare-object tiles behind the `rare_blobs` dataset. A tile is a textured background
// (multi-octave value noise + a smooth gradient + pixel noise); a few tiles hold small irregular
// blobs whose signature is a subtle colour shift with a fine stripe texture. Look-alikes make the
// task non-trivial: blobs of the same shape with another colour shift and no texture, and the true
// colour shift without the blob shape (thin streaks, wide diffuse patches).
//
// Each tile is a pure function of (seed, split, index): the object layout comes from one Rng, the
// texture from another, so the layout (and Split::label) is cheap to get without rendering.

#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

namespace xp::seg {

struct RareBlobsOptions {
  uint64_t seed = 0;
  int64_t image_size = 64;
  double positive_fraction = 0.003;    // target share of positive pixels over a split
  double object_tile_fraction = 0.3;   // share of tiles holding at least one object
  int64_t max_objects = 2;             // objects per object tile: uniform in 1..max_objects
  double distractor_rate = 1.0;        // mean look-alikes per tile
  double noise = 0.03;                 // pixel noise std (image in [0,1])
  double signal = 1.0;                 // strength of the true signature (and of the look-alikes)
  double dem_depth = 30.0;             // "dem" band: depth of the objects' depressions (0.1 m units)
  double dem_noise = 10.0;             // "dem" band: pixel noise std (0.1 m units)
  double dem_sinks = 1.0;              // "dem" band: mean natural depressions (not objects) per tile
  bool dem_relative = false;           // "dem" band: relative elevation (minus the local mean) instead of absolute
  int64_t dem_window = 15;             // dem_relative: side of the local-mean window in pixels (odd)
};

struct Blob {
  enum Kind { Object, ShapeDistractor, Streak, Patch };
  Kind kind = Object;
  double cx = 0, cy = 0, radius = 0;     // Streak: centre, half length
  double harmonics[3] = {0, 0, 0};       // radius modulation of orders 2, 3, 4
  double phases[3] = {0, 0, 0};
  double angle = 0;                      // stripe orientation (Object), streak direction (Streak)
};

class RareBlobsGenerator {
 public:
  explicit RareBlobsGenerator(const RareBlobsOptions& options);

  std::vector<Blob> layout(int64_t split, int64_t index) const;
  // H x W CV_8U, 1 inside objects.
  cv::Mat mask(const std::vector<Blob>& blobs) const;
  // H x W x 3 CV_8U (RGB).
  cv::Mat image(int64_t split, int64_t index, const std::vector<Blob>& blobs) const;

  // Auxiliary bands, H x W CV_16U, each from its own random stream (the RGB tile does not change
  // when they are added). "dem": smooth terrain around 2000 m in 0.1 m units where every object is a
  // shallow depression, and so are a few natural sinks that are not objects (it carries part of the
  // signal: it tells objects from their shape look-alikes, which have no depression, but has its own
  // false positives). With dem_relative the band is relative elevation instead: every pixel minus
  // the mean of the dem_window x dem_window pixels around it, in 0.1 m units with 0 m stored as 32768:
  // a common form for a DEM entering a segmentation model (the tile's absolute elevation and slope say
  // nothing about a local depression). "noise": an unrelated 16-bit texture that carries no signal.
  cv::Mat dem(int64_t split, int64_t index, const std::vector<Blob>& blobs) const;
  cv::Mat noise_band(int64_t split, int64_t index) const;

  // Mean object radius that meets positive_fraction (for the docs and tests).
  double object_radius() const { return radius_; }

 private:
  cv::Mat blob_coverage(const Blob& blob) const;  // CV_32F in [0,1], anti-aliased edge
  RareBlobsOptions o_;
  double radius_;
};

}  // namespace xp::seg
