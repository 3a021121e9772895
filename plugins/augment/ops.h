#pragma once
// Pixel operations on 8-bit RGB (or single-channel) images, shared by the photometric transforms
// and the RandAugment / TrivialAugment policies. Each follows torchvision's functional definition
// so that results match what users know; most reduce to one 256-entry lookup table.

#include <opencv2/core.hpp>

namespace xp::augment::ops {

// out = clamp(v * factor)
void brightness(cv::Mat& img, double factor);
// Blend with the mean grey level: out = factor * v + (1 - factor) * mean(gray).
void contrast(cv::Mat& img, double factor);
// Blend with the greyscale image (factor 0 = grey, 1 = unchanged). No-op on one channel.
void saturation(cv::Mat& img, double factor);
// Rotates hue by `shift` turns, shift in [-0.5, 0.5]. No-op on one channel.
void hue(cv::Mat& img, double shift);
// Blend with a 3x3-smoothed copy (torchvision adjust_sharpness); factor 0 = smooth, 1 = unchanged.
void sharpness(cv::Mat& img, double factor);
void posterize(cv::Mat& img, int bits);        // keep the `bits` high bits
void solarize(cv::Mat& img, double threshold);  // invert values >= threshold
void autocontrast(cv::Mat& img);               // stretch each channel to [0, 255]
void equalize(cv::Mat& img);                   // histogram equalisation per channel
void gamma(cv::Mat& img, double gamma);        // 255 * (v / 255) ^ gamma
// Greyscale replicated to the image's channel count.
void to_gray(cv::Mat& img);

// Applies `lut` (256 x 1, CV_8U) to every channel.
void apply_lut(cv::Mat& img, const cv::Mat& lut);
// 256 x 1 CV_8U table of saturate(a * v + b).
cv::Mat linear_lut(double a, double b);

// Standard normal quantiles for 65,536 equally likely 16-bit codes: four normal draws from one
// 64-bit Rng output, fast enough for per-pixel noise.
const float* normal_table();

}  // namespace xp::augment::ops
