#pragma once
// An image whose decoding is left for later. A dataset may return one in Sample::encoded (with
// Sample::image empty) from Split::load_lazy: a transform that crops first (random_resized_crop)
// then decodes only its region, which for a JPEG skips most of the decoding work, and the loader
// decodes the whole image for any other transform. A region's pixels equal the same region of
// the whole decoded image, so laziness never changes what the model sees.

#include <memory>

#include <opencv2/core.hpp>

namespace xp {

class BatchDecodeStage;  // xp/batch_decode.h

class EncodedImage {
 public:
  virtual ~EncodedImage() = default;
  virtual int width() const = 0;
  virtual int height() const = 0;
  virtual int channels() const = 0;
  // The pixels of `region` (inside the image), H x W x channels(), CV_8U, RGB order. Throws
  // xp::BadSample for data that cannot be decoded.
  virtual cv::Mat decode(const cv::Rect& region) const = 0;
  cv::Mat decode() const { return decode(cv::Rect(0, 0, width(), height())); }
  // `region` resized to `size` (bilinear, as cv::resize INTER_LINEAR). An image may decode a large
  // region at a reduced scale first (a JPEG's DCT scaling), which changes its pixels a little
  // (docs/plugins-reference.md, scaled_decode); by default the region is decoded whole and resized.
  virtual cv::Mat decode_resized(const cv::Rect& region, cv::Size size) const;
  // The batch stage (GPU) that can decode this image with its crop, or null: only the CPU can.
  // See xp/batch_decode.h.
  virtual std::shared_ptr<BatchDecodeStage> batch_stage() const { return nullptr; }
};

}  // namespace xp
