#include "preview_grid.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <opencv2/imgproc.hpp>

namespace xp::cli::preview {

namespace {

const cv::Scalar kBackground(24, 24, 24), kBand(48, 48, 48), kText(235, 235, 235);  // BGR
constexpr double kMaskAlpha = 0.45;  // translucent: the pixels under the mask stay visible
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
constexpr double kFontScale = 0.4;

// RGB colours per class id (1, 2, ...); the ignore value 255 is grey, so it reads as "not counted".
cv::Vec3b class_colour(int id) {
  static const cv::Vec3b palette[] = {{255, 64, 32}, {32, 160, 255}, {64, 220, 64}, {255, 220, 0},
                                      {200, 64, 255}, {0, 230, 230},  {255, 128, 192}, {160, 96, 32}};
  if (id == 255) return {160, 160, 160};
  return palette[(id - 1) % static_cast<int>(sizeof palette / sizeof palette[0])];
}

// Text that fits `width` pixels, shortened with ".." when it does not.
std::string fit(std::string text, int width) {
  auto w = [](const std::string& s) {
    int base = 0;
    return cv::getTextSize(s, kFont, kFontScale, 1, &base).width;
  };
  if (w(text) <= width) return text;
  while (!text.empty() && w(text + "..") > width) text.pop_back();
  return text + "..";
}

int text_width(const std::string& s) {
  int base = 0;
  return cv::getTextSize(s, kFont, kFontScale, 1, &base).width;
}

// Blends the mask's classes into `rgb` (both already at display size) and outlines each region at
// full opacity, so even a few-pixel object is visible after the translucent fill.
void overlay_mask(cv::Mat& rgb, const cv::Mat& mask) {
  if (mask.depth() == CV_8U && mask.channels() == 1) {
    std::vector<bool> present(256, false);
    for (int r = 0; r < mask.rows; ++r) {
      const uchar* m = mask.ptr<uchar>(r);
      cv::Vec3b* p = rgb.ptr<cv::Vec3b>(r);
      for (int c = 0; c < mask.cols; ++c) {
        if (!m[c]) continue;
        present[m[c]] = true;
        const cv::Vec3b colour = class_colour(m[c]);
        for (int k = 0; k < 3; ++k)
          p[c][k] = cv::saturate_cast<uchar>((1.0 - kMaskAlpha) * p[c][k] + kMaskAlpha * colour[k]);
      }
    }
    for (int id = 1; id < 256; ++id) {
      if (!present[id]) continue;
      std::vector<std::vector<cv::Point>> contours;
      cv::findContours(mask == id, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_NONE);
      const cv::Vec3b colour = class_colour(id);
      cv::drawContours(rgb, contours, -1, cv::Scalar(colour[0], colour[1], colour[2]), 1);
    }
    return;
  }
  // Soft labels (CV_32F in [0, 1]) or any other depth: the fill's opacity follows the value.
  cv::Mat soft;
  mask.reshape(1).convertTo(soft, CV_32F);
  const cv::Vec3b colour = class_colour(1);
  for (int r = 0; r < soft.rows; ++r) {
    const float* m = soft.ptr<float>(r);
    cv::Vec3b* p = rgb.ptr<cv::Vec3b>(r);
    for (int c = 0; c < soft.cols; ++c) {
      const double a = kMaskAlpha * std::clamp(static_cast<double>(m[c]), 0.0, 1.0);
      for (int k = 0; k < 3; ++k) p[c][k] = cv::saturate_cast<uchar>((1.0 - a) * p[c][k] + a * colour[k]);
    }
  }
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(soft > 0.5f, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_NONE);
  cv::drawContours(rgb, contours, -1, cv::Scalar(colour[0], colour[1], colour[2]), 1);
}

bool has_foreground(const cv::Mat& mask) {
  if (mask.empty()) return false;
  cv::Mat plane = mask.reshape(1);
  if (plane.depth() != CV_8U) plane = plane > 0;
  return cv::countNonZero(plane) > 0;
}

}  // namespace

cv::Mat to_display_rgb(const cv::Mat& image, const std::optional<Denormalize>& denormalize) {
  if (image.empty()) throw std::invalid_argument("preview: a sample has an empty image");
  const int c = image.channels();
  cv::Mat pixels;  // CV_8U, c channels
  if (image.depth() == CV_8U) {
    pixels = image;
  } else {
    cv::Mat f;
    image.convertTo(f, CV_32F);
    const bool invertible = denormalize && !denormalize->mean.empty() &&
                            denormalize->std.size() == denormalize->mean.size() &&
                            (denormalize->mean.size() == 1 || static_cast<int>(denormalize->mean.size()) == c);
    if (invertible) {
      const auto& d = *denormalize;
      auto pick = [](const std::vector<double>& v, int k) { return v.size() == 1 ? v[0] : v[k]; };
      f = f.clone();
      for (int r = 0; r < f.rows; ++r) {
        float* p = f.ptr<float>(r);
        for (int i = 0; i < f.cols * c; ++i)
          p[i] = static_cast<float>((p[i] * pick(d.std, i % c) + pick(d.mean, i % c)) * d.max_pixel_value);
      }
      f.convertTo(pixels, CV_8U);  // rounds and saturates to 0..255
    } else {
      double lo = 0, hi = 0;
      cv::minMaxLoc(f.reshape(1), &lo, &hi);
      const double scale = hi > lo ? 255.0 / (hi - lo) : 0.0;
      f.convertTo(pixels, CV_8U, scale, -lo * scale);
    }
  }
  cv::Mat rgb;
  if (c == 3) {
    rgb = pixels.clone();
  } else if (c == 1) {
    cv::cvtColor(pixels, rgb, cv::COLOR_GRAY2RGB);
  } else if (c == 4) {
    cv::cvtColor(pixels, rgb, cv::COLOR_RGBA2RGB);
  } else {  // 2 or more than 4 channels: show the first as grey
    cv::Mat first;
    cv::extractChannel(pixels, first, 0);
    cv::cvtColor(first, rgb, cv::COLOR_GRAY2RGB);
  }
  return rgb;
}

Grid render_grid(const std::vector<Row>& rows, const std::optional<Denormalize>& denormalize, const Layout& layout) {
  int longest = 0, columns = 0, tiles = 0;
  for (const auto& row : rows) {
    columns = std::max(columns, static_cast<int>(row.tiles.size()));
    tiles += static_cast<int>(row.tiles.size());
    for (const auto& t : row.tiles) longest = std::max({longest, t.image.rows, t.image.cols});
  }
  if (tiles == 0 || longest == 0) throw std::invalid_argument("preview: no samples to draw");

  // One factor for every tile, so a crop that made a sample smaller still looks smaller.
  double scale = 1.0;
  int interpolation = cv::INTER_NEAREST;
  if (longest < layout.min_side) {
    scale = std::ceil(static_cast<double>(layout.min_side) / longest);
  } else if (longest > layout.max_side) {
    scale = static_cast<double>(layout.max_side) / longest;
    interpolation = cv::INTER_AREA;
  }
  auto scaled = [&](int n) { return std::max(1, static_cast<int>(std::lround(n * scale))); };
  int cell_w = 0, cell_h = 0;
  for (const auto& row : rows)
    for (const auto& t : row.tiles) {
      cell_w = std::max(cell_w, scaled(t.image.cols));
      cell_h = std::max(cell_h, scaled(t.image.rows));
    }

  int caption_w = 0;
  for (const auto& row : rows)
    if (!row.caption.empty()) caption_w = std::max(caption_w, text_width(row.caption) + 2 * layout.gap);
  const int x0 = layout.gap + (caption_w ? caption_w + layout.gap : 0);
  const int row_h = layout.caption_band + cell_h + layout.gap;

  Grid grid;
  grid.rows = static_cast<int>(rows.size());
  grid.columns = columns;
  grid.tiles = tiles;
  grid.image = cv::Mat(layout.gap + grid.rows * row_h, x0 + columns * (cell_w + layout.gap), CV_8UC3, kBackground);

  for (int r = 0; r < grid.rows; ++r) {
    const int y = layout.gap + r * row_h;
    if (!rows[r].caption.empty())
      cv::putText(grid.image, fit(rows[r].caption, caption_w), cv::Point(layout.gap, y + layout.caption_band + cell_h / 2),
                  kFont, kFontScale, kText, 1, cv::LINE_AA);
    for (size_t i = 0; i < rows[r].tiles.size(); ++i) {
      const Tile& t = rows[r].tiles[i];
      const int x = x0 + static_cast<int>(i) * (cell_w + layout.gap);
      cv::rectangle(grid.image, cv::Rect(x, y, cell_w, layout.caption_band), kBand, cv::FILLED);
      cv::putText(grid.image, fit(t.caption, cell_w - 6), cv::Point(x + 3, y + layout.caption_band - 5), kFont,
                  kFontScale, kText, 1, cv::LINE_AA);

      cv::Mat rgb = to_display_rgb(t.image, denormalize);
      const cv::Size size(scaled(rgb.cols), scaled(rgb.rows));
      if (size != rgb.size()) cv::resize(rgb, rgb, size, 0, 0, interpolation);
      if (!t.mask.empty()) {
        // Masks are labels: always nearest, so class ids and the ignore value survive scaling.
        cv::Mat mask = t.mask;
        if (mask.size() != rgb.size()) cv::resize(mask, mask, rgb.size(), 0, 0, cv::INTER_NEAREST);
        overlay_mask(rgb, mask);
        if (has_foreground(t.mask)) ++grid.tiles_with_mask;
      }
      cv::Mat bgr;
      cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
      // Centred in its cell: samples of different sizes line up on their centres.
      const cv::Rect where(x + (cell_w - bgr.cols) / 2, y + layout.caption_band + (cell_h - bgr.rows) / 2, bgr.cols,
                           bgr.rows);
      bgr.copyTo(grid.image(where));
    }
  }
  return grid;
}

}  // namespace xp::cli::preview
