#pragma once
// Pieces every transform of the library shares: reading parameters (with schema defaults, so
// hand-built nested tables work too), the names of OpenCV border and interpolation modes, and the
// one geometric primitive that moves image and mask together.

#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

#include "xp/plugin.h"

namespace xp::augment {

// `params` with every schema parameter that has a default and is absent filled in.
Params with_defaults(const Params& params, const Schema& schema);

// Throws xp::ConfigError at the plugin table's position.
[[noreturn]] void fail(const Params& params, const std::string& message);

// A [lo, hi] parameter; one element means [x, x]. Checks length and order.
std::pair<double, double> range_param(const Params& params, const std::string& name);
std::pair<int64_t, int64_t> int_range_param(const Params& params, const std::string& name);
// A size given as [h, w] (or [s] for a square).
cv::Size size_param(const Params& params, const std::string& name);

const std::vector<Value>& border_choices();         // constant, reflect, symmetric, replicate, wrap
const std::vector<Value>& interpolation_choices();  // nearest, linear, cubic, area, lanczos
int border_mode(const std::string& name);
int interpolation(const std::string& name);

// One fill value per channel from a list of 1 or C values (1 is broadcast).
cv::Scalar fill_scalar(const std::vector<double>& fill);

// How a geometric transform treats borders and masks; read from the common parameter names
// interpolation, border_mode, fill, mask_fill.
struct Border {
  int interpolation = 1;  // cv::INTER_LINEAR
  int mode = 0;           // cv::BORDER_CONSTANT
  cv::Scalar fill;
  int mask_fill = 0;
};
Schema& add_border_params(Schema& schema, const std::string& default_mode);
Border read_border(const Params& params);

// Warps image (with border.interpolation) and mask (nearest) by the same 2x3 matrix.
void warp_affine(Sample& sample, const cv::Mat& matrix, cv::Size out, const Border& border);
// Resizes image and mask (nearest) to `out`.
void resize_sample(Sample& sample, cv::Size out, int interpolation);
// Crops `roi` (must lie inside the image) from image and mask.
void crop_sample(Sample& sample, const cv::Rect& roi);
// Pads image and mask by the given amounts.
void pad_sample(Sample& sample, int top, int bottom, int left, int right, const Border& border);

// Photometric transforms work on 8-bit images: they run before `normalize`.
void require_u8(const Sample& sample, const char* who);

// Colour and radiometric transforms act on the colour bands only: the whole image when it has 1
// (grey) or 3 (RGB) bands, the first three bands of an image with more (auxiliary bands such as a
// DEM or NDVI stay exactly as they are; geometric transforms move every band). Two bands are an
// error: there is no colour to change. The colour bands must be 8-bit (require_u8).
// `transform` gets a sample whose image is the colour bands (its mask is the sample's own) and may
// change or replace that image, keeping its size, type and band count.
template <class Transform>
void with_color_bands(Sample& sample, const char* who, Transform&& transform);

// The pieces of with_color_bands: split off the colour bands / put them back.
Sample color_bands_of(const Sample& sample, const char* who, std::vector<cv::Mat>& auxiliary);
void restore_color_bands(Sample& sample, const Sample& colour, const std::vector<cv::Mat>& auxiliary, const char* who);

template <class Transform>
void with_color_bands(Sample& sample, const char* who, Transform&& transform) {
  require_u8(sample, who);
  const int c = sample.image.channels();
  if (c == 1 || c == 3) {
    transform(sample);
    return;
  }
  std::vector<cv::Mat> auxiliary;
  Sample colour = color_bands_of(sample, who, auxiliary);
  transform(colour);
  restore_color_bands(sample, colour, auxiliary, who);
}

// 2x3 rotation/scale matrix about the image centre plus a shift in pixels.
cv::Mat center_affine(cv::Size size, double angle_deg, double scale, double shear_x_deg, double shear_y_deg,
                      double tx, double ty);

}  // namespace xp::augment

namespace xp::augment {
// Builds a nested augmentation (gated by its own `p`), first filling the defaults of its
// registered schema so that a child table works whether or not the host expanded it.
std::shared_ptr<Augmentation> build_child(const Params& params);
std::vector<std::shared_ptr<Augmentation>> build_children(const Params& params, const std::string& name);
}  // namespace xp::augment
