#pragma once
// Renders augmented samples for `xp augment preview`: each sample becomes an 8-bit BGR tile
// (float images mapped back to pixels, masks overlaid in translucent colour) with a caption band,
// and the tiles are laid out in rows on one image that cv::imwrite can save.
//
// Only OpenCV here: the command decides which samples and transforms to show, this file only how.

#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace xp::cli::preview {

// The inverse of the pipeline's `normalize`: pixel = (x * std + mean) * max_pixel_value.
struct Denormalize {
  std::vector<double> mean, std;  // one value, or one per channel
  double max_pixel_value = 255.0;
};

struct Tile {
  cv::Mat image;        // H x W x C as the pipeline left it: RGB, CV_8U or CV_32F
  cv::Mat mask;         // H x W, empty when the dataset has none
  std::string caption;  // drawn in the band above the tile, e.g. "#12 Sandal"
};

struct Row {
  std::string caption;  // drawn left of the row ("" for none); --each names the transform here
  std::vector<Tile> tiles;
};

// Tile geometry: the largest sample is scaled (all by the same factor, so sizes stay comparable)
// until its longer side lies in [min_side, max_side]; small images by an integer factor with
// nearest interpolation, so pixels stay crisp.
struct Layout {
  int min_side = 96, max_side = 256;
  int gap = 4;            // between tiles and around the grid
  int caption_band = 18;  // height of the caption above each tile
};

struct Grid {
  cv::Mat image;  // BGR, CV_8UC3
  int rows = 0, columns = 0, tiles = 0;
  int tiles_with_mask = 0;  // tiles whose mask has a foreground (or ignore) pixel
};

// An image the pipeline produced as 8-bit RGB for display: CV_8U unchanged; other depths through
// `denormalize` when given, else stretched from their own min..max (a float pipeline without a
// top-level `normalize` to invert). Grey and RGBA images become 3-channel.
cv::Mat to_display_rgb(const cv::Mat& image, const std::optional<Denormalize>& denormalize);

// Lays `rows` out left-aligned (the widest row sets the width). Throws std::invalid_argument when
// there is no tile at all.
Grid render_grid(const std::vector<Row>& rows, const std::optional<Denormalize>& denormalize,
                 const Layout& layout = {});

}  // namespace xp::cli::preview
