#include "ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/imgproc.hpp>

namespace xp::augment::ops {

cv::Mat linear_lut(double a, double b) {
  cv::Mat lut(1, 256, CV_8U);
  auto* t = lut.ptr<uchar>();
  for (int v = 0; v < 256; ++v) t[v] = cv::saturate_cast<uchar>(a * v + b);
  return lut;
}

void apply_lut(cv::Mat& img, const cv::Mat& lut) {
  cv::Mat out;
  cv::LUT(img, lut, out);
  img = out;
}

void brightness(cv::Mat& img, double factor) { apply_lut(img, linear_lut(factor, 0.0)); }

namespace {
double mean_gray(const cv::Mat& img) {
  cv::Scalar m = cv::mean(img);
  if (img.channels() == 1) return m[0];
  return 0.299 * m[0] + 0.587 * m[1] + 0.114 * m[2];  // RGB, ITU-R 601 weights as torchvision
}
cv::Mat gray_like(const cv::Mat& img) {
  cv::Mat gray, out;
  cv::cvtColor(img, gray, cv::COLOR_RGB2GRAY);
  cv::cvtColor(gray, out, cv::COLOR_GRAY2RGB);
  return out;
}
void blend(cv::Mat& img, const cv::Mat& other, double factor) {
  cv::Mat out;
  cv::addWeighted(img, factor, other, 1.0 - factor, 0.0, out);
  img = out;
}
}  // namespace

void contrast(cv::Mat& img, double factor) {
  apply_lut(img, linear_lut(factor, (1.0 - factor) * mean_gray(img)));
}

void saturation(cv::Mat& img, double factor) {
  if (img.channels() != 3 || factor == 1.0) return;
  blend(img, gray_like(img), factor);
}

void hue(cv::Mat& img, double shift) {
  if (img.channels() != 3 || shift == 0.0) return;
  // HSV_FULL stores hue in 0..255, so a shift is a wrap-around byte add on the first channel.
  cv::Mat hsv;
  cv::cvtColor(img, hsv, cv::COLOR_RGB2HSV_FULL);
  const int delta = static_cast<int>(std::lround(shift * 256.0)) & 255;
  const size_t n = hsv.total();
  uchar* p = hsv.ptr<uchar>();
  for (size_t i = 0; i < n; ++i) p[3 * i] = static_cast<uchar>(p[3 * i] + delta);
  cv::cvtColor(hsv, img, cv::COLOR_HSV2RGB_FULL);
}

void sharpness(cv::Mat& img, double factor) {
  if (factor == 1.0 || img.rows < 3 || img.cols < 3) return;
  static const cv::Mat kernel = (cv::Mat_<float>(3, 3) << 1, 1, 1, 1, 5, 1, 1, 1, 1) / 13.0f;
  cv::Mat smooth = img.clone();
  cv::Rect inner(1, 1, img.cols - 2, img.rows - 2);
  cv::Mat filtered;
  cv::filter2D(img, filtered, -1, kernel, cv::Point(-1, -1), 0, cv::BORDER_REPLICATE);
  filtered(inner).copyTo(smooth(inner));  // torchvision keeps the border pixels as they were
  blend(img, smooth, factor);
}

void posterize(cv::Mat& img, int bits) {
  bits = std::clamp(bits, 0, 8);
  const int keep = bits == 0 ? 0 : (0xFF << (8 - bits)) & 0xFF;
  cv::Mat lut(1, 256, CV_8U);
  for (int v = 0; v < 256; ++v) lut.at<uchar>(v) = static_cast<uchar>(v & keep);
  apply_lut(img, lut);
}

void solarize(cv::Mat& img, double threshold) {
  cv::Mat lut(1, 256, CV_8U);
  for (int v = 0; v < 256; ++v) lut.at<uchar>(v) = static_cast<uchar>(v >= threshold ? 255 - v : v);
  apply_lut(img, lut);
}

void autocontrast(cv::Mat& img) {
  std::vector<cv::Mat> planes;
  cv::split(img, planes);
  cv::Mat lut(1, 256, CV_8UC(img.channels()));
  for (int c = 0; c < img.channels(); ++c) {
    double lo, hi;
    cv::minMaxLoc(planes[c], &lo, &hi);
    const double scale = hi > lo ? 255.0 / (hi - lo) : 1.0, offset = hi > lo ? lo : 0.0;
    for (int v = 0; v < 256; ++v)
      lut.ptr<uchar>()[v * img.channels() + c] = cv::saturate_cast<uchar>((v - offset) * scale);
  }
  cv::Mat out;
  cv::LUT(img, lut, out);
  img = out;
}

void equalize(cv::Mat& img) {
  std::vector<cv::Mat> planes;
  cv::split(img, planes);
  for (auto& p : planes) cv::equalizeHist(p, p);
  cv::merge(planes, img);
}

void gamma(cv::Mat& img, double g) {
  cv::Mat lut(1, 256, CV_8U);
  for (int v = 0; v < 256; ++v) lut.at<uchar>(v) = cv::saturate_cast<uchar>(255.0 * std::pow(v / 255.0, g));
  apply_lut(img, lut);
}

void to_gray(cv::Mat& img) {
  if (img.channels() == 3) img = gray_like(img);
}

namespace {
// Acklam's rational approximation of the inverse normal CDF (relative error < 1.2e-9).
double inverse_normal_cdf(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  const double lo = 0.02425, hi = 1 - lo;
  if (p < lo) {
    double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > hi) return -inverse_normal_cdf(1 - p);
  double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}
}  // namespace

const float* normal_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (int i = 0; i < 65536; ++i) t[i] = static_cast<float>(inverse_normal_cdf((i + 0.5) / 65536.0));
    return t;
  }();
  return table.data();
}

}  // namespace xp::augment::ops
