#include "common.h"

#include <cmath>

#include <opencv2/imgproc.hpp>

namespace xp::augment {

Params with_defaults(const Params& params, const Schema& schema) {
  Value::Table values = params.values();
  for (const auto& spec : schema.params())
    if (!params.has(spec.name) && !spec.default_value.is_none()) values[spec.name] = spec.default_value;
  return Params(params.plugin(), std::move(values), params.where());
}

void fail(const Params& params, const std::string& message) {
  throw ConfigError(params.plugin() + ": " + message, params.where());
}

std::pair<double, double> range_param(const Params& params, const std::string& name) {
  auto v = params.get_floats(name);
  if (v.size() == 1) return {v[0], v[0]};
  if (v.size() != 2) fail(params, "'" + name + "' must be [lo, hi], got " + params.get(name).to_string());
  if (v[0] > v[1]) fail(params, "'" + name + "' must have lo <= hi, got " + params.get(name).to_string());
  return {v[0], v[1]};
}

std::pair<int64_t, int64_t> int_range_param(const Params& params, const std::string& name) {
  auto v = params.get_ints(name);
  if (v.size() == 1) return {v[0], v[0]};
  if (v.size() != 2) fail(params, "'" + name + "' must be [lo, hi], got " + params.get(name).to_string());
  if (v[0] > v[1]) fail(params, "'" + name + "' must have lo <= hi, got " + params.get(name).to_string());
  return {v[0], v[1]};
}

cv::Size size_param(const Params& params, const std::string& name) {
  auto v = params.get_ints(name);
  if (v.size() == 1) v.push_back(v[0]);
  if (v.size() != 2 || v[0] <= 0 || v[1] <= 0)
    fail(params, "'" + name + "' must be [height, width] of positive sizes, got " + params.get(name).to_string());
  return cv::Size(static_cast<int>(v[1]), static_cast<int>(v[0]));
}

const std::vector<Value>& border_choices() {
  static const std::vector<Value> c{"constant", "reflect", "symmetric", "replicate", "wrap"};
  return c;
}
const std::vector<Value>& interpolation_choices() {
  static const std::vector<Value> c{"nearest", "linear", "cubic", "area", "lanczos"};
  return c;
}

int border_mode(const std::string& name) {
  // "reflect" without repeating the edge pixel, as numpy/torch name it; "symmetric" repeats it.
  if (name == "constant") return cv::BORDER_CONSTANT;
  if (name == "reflect") return cv::BORDER_REFLECT_101;
  if (name == "symmetric") return cv::BORDER_REFLECT;
  if (name == "replicate") return cv::BORDER_REPLICATE;
  if (name == "wrap") return cv::BORDER_WRAP;
  throw ParamError("unknown border mode '" + name + "'");
}

int interpolation(const std::string& name) {
  if (name == "nearest") return cv::INTER_NEAREST;
  if (name == "linear") return cv::INTER_LINEAR;
  if (name == "cubic") return cv::INTER_CUBIC;
  if (name == "area") return cv::INTER_AREA;
  if (name == "lanczos") return cv::INTER_LANCZOS4;
  throw ParamError("unknown interpolation '" + name + "'");
}

cv::Scalar fill_scalar(const std::vector<double>& fill) {
  if (fill.empty()) return cv::Scalar::all(0);
  if (fill.size() == 1) return cv::Scalar::all(fill[0]);
  cv::Scalar s;
  for (size_t i = 0; i < fill.size() && i < 4; ++i) s[static_cast<int>(i)] = fill[i];
  return s;
}

Schema& add_border_params(Schema& schema, const std::string& default_mode) {
  return schema.add_string("interpolation", "linear", "image interpolation (masks always use nearest)")
      .choices(interpolation_choices())
      .add_string("border_mode", default_mode, "how pixels outside the image are filled")
      .choices(border_choices())
      .add_floats("fill", {0.0}, "image fill value(s) for border_mode = constant (one, or one per channel)")
      .range(0.0, 255.0)
      .add_int("mask_fill", 0, "mask fill value for border_mode = constant (255 = ignore)")
      .range(0, 255);
}

Border read_border(const Params& params) {
  Border b;
  b.interpolation = interpolation(params.get_string("interpolation"));
  b.mode = border_mode(params.get_string("border_mode"));
  auto fill = params.get_floats("fill");
  if (fill.size() > 4) fail(params, "'fill' has at most 4 values (one per channel)");
  b.fill = fill_scalar(fill);
  b.mask_fill = static_cast<int>(params.get_int("mask_fill"));
  return b;
}

void warp_affine(Sample& sample, const cv::Mat& matrix, cv::Size out, const Border& border) {
  cv::Mat image;
  cv::warpAffine(sample.image, image, matrix, out, border.interpolation, border.mode, border.fill);
  sample.image = image;
  if (!sample.mask.empty()) {
    cv::Mat mask;
    cv::warpAffine(sample.mask, mask, matrix, out, cv::INTER_NEAREST, border.mode, cv::Scalar::all(border.mask_fill));
    sample.mask = mask;
  }
}

void resize_sample(Sample& sample, cv::Size out, int interp) {
  if (sample.image.size() == out) return;
  cv::Mat image;
  cv::resize(sample.image, image, out, 0, 0, interp);
  sample.image = image;
  if (!sample.mask.empty()) {
    cv::Mat mask;
    cv::resize(sample.mask, mask, out, 0, 0, cv::INTER_NEAREST);
    sample.mask = mask;
  }
}

void crop_sample(Sample& sample, const cv::Rect& roi) {
  // clone() so the sample owns compact memory (later transforms and collation expect it).
  sample.image = sample.image(roi).clone();
  if (!sample.mask.empty()) sample.mask = sample.mask(roi).clone();
}

void pad_sample(Sample& sample, int top, int bottom, int left, int right, const Border& border) {
  if (top == 0 && bottom == 0 && left == 0 && right == 0) return;
  cv::Mat image;
  cv::copyMakeBorder(sample.image, image, top, bottom, left, right, border.mode, border.fill);
  sample.image = image;
  if (!sample.mask.empty()) {
    cv::Mat mask;
    cv::copyMakeBorder(sample.mask, mask, top, bottom, left, right, border.mode, cv::Scalar::all(border.mask_fill));
    sample.mask = mask;
  }
}

void require_u8(const Sample& sample, const char* who) {
  if (sample.image.empty()) throw std::runtime_error(std::string(who) + ": the sample has no image");
  if (sample.image.depth() != CV_8U)
    throw std::runtime_error(std::string(who) +
                             ": needs an 8-bit image; put it before `normalize` in the augmentation list");
}

Sample color_bands_of(const Sample& sample, const char* who, std::vector<cv::Mat>& auxiliary) {
  const int c = sample.image.channels();
  if (c == 2)
    throw ConfigError(std::string(who) + ": a colour transform needs 1 (grey) or at least 3 bands (the first three "
                                         "are the colour bands); this sample has 2 (" + sample.source + ")");
  std::vector<cv::Mat> planes;
  cv::split(sample.image, planes);
  Sample colour;
  colour.mask = sample.mask;
  colour.source = sample.source;
  colour.index = sample.index;
  cv::merge(std::vector<cv::Mat>(planes.begin(), planes.begin() + 3), colour.image);
  auxiliary.assign(planes.begin() + 3, planes.end());
  return colour;
}

void restore_color_bands(Sample& sample, const Sample& colour, const std::vector<cv::Mat>& auxiliary, const char* who) {
  if (colour.image.channels() != 3 || colour.image.size() != sample.image.size() || colour.image.depth() != CV_8U)
    throw std::logic_error(std::string(who) + ": a colour transform changed the size or type of the colour bands");
  std::vector<cv::Mat> planes;
  cv::split(colour.image, planes);
  planes.insert(planes.end(), auxiliary.begin(), auxiliary.end());
  cv::merge(planes, sample.image);
}

cv::Mat center_affine(cv::Size size, double angle_deg, double scale, double shear_x_deg, double shear_y_deg,
                      double tx, double ty) {
  // Forward map x' = A (x - c) + c + t with A = R(angle) * ShearX * ShearY * scale; positive angles
  // turn the picture counter-clockwise, as torchvision and cv::getRotationMatrix2D do.
  const double a = angle_deg * CV_PI / 180.0;
  cv::Matx22d r(std::cos(a), std::sin(a), -std::sin(a), std::cos(a));
  cv::Matx22d sx(1.0, std::tan(shear_x_deg * CV_PI / 180.0), 0.0, 1.0);
  cv::Matx22d sy(1.0, 0.0, std::tan(shear_y_deg * CV_PI / 180.0), 1.0);
  cv::Matx22d m = r * sx * sy * scale;
  const double cx = (size.width - 1) * 0.5, cy = (size.height - 1) * 0.5;
  cv::Mat out(2, 3, CV_64F);
  out.at<double>(0, 0) = m(0, 0);
  out.at<double>(0, 1) = m(0, 1);
  out.at<double>(1, 0) = m(1, 0);
  out.at<double>(1, 1) = m(1, 1);
  out.at<double>(0, 2) = cx - m(0, 0) * cx - m(0, 1) * cy + tx;
  out.at<double>(1, 2) = cy - m(1, 0) * cx - m(1, 1) * cy + ty;
  return out;
}

}  // namespace xp::augment

namespace xp::augment {
std::shared_ptr<Augmentation> build_child(const Params& params) {
  const PluginEntry& entry = PluginRegistry::instance().get(Augmentation::kKind, params.plugin());
  return build_augmentation(with_defaults(params, entry.schema));
}

std::vector<std::shared_ptr<Augmentation>> build_children(const Params& params, const std::string& name) {
  std::vector<std::shared_ptr<Augmentation>> out;
  for (const auto& child : params.get_plugins(name)) out.push_back(build_child(child));
  return out;
}
}  // namespace xp::augment
