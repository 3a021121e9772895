#pragma once
// A JPEG file held encoded (xp::EncodedImage), decoded with libjpeg-turbo region by region:
// rows above the region are skipped (entropy-decoded only), rows below are never touched, and
// columns outside it skip the inverse DCT and colour conversion. A random_resized_crop of a photo
// decodes roughly half of the work of the whole image.
//
// The region is decoded with a margin and cut out afterwards, so chroma upsampling sees the same
// neighbours as in a full decode: the pixels equal cv::imdecode's (RGB) bit for bit
// (tests/unit/test_classification_datasets.cpp checks it).
//
// With scaled decoding on (the dataset's scaled_decode), decode_resized of a region at least twice
// the output size in both directions decodes it at 1/2, 1/4 or 1/8 scale in the DCT domain
// (libjpeg-turbo's scale_num / scale_denom: fewer coefficients through the inverse DCT, a quarter or
// less of the pixels through colour conversion) and resizes what is left with the same geometry as
// the full-scale path. Its pixels then differ from a full decode + resize by the DCT scaling's
// smoothing (tests/unit/test_jpeg_regions.cpp bounds it).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <xp/batch_decode.h>
#include <xp/encoded_image.h>

namespace xp::classification {

class JpegImage : public EncodedImage {
 public:
  // The header of `bytes` read; nullopt when this decoder should not take the file: not a JPEG,
  // CMYK/YCCK colour, or an EXIF orientation other than "normal" (cv::imdecode rotates those).
  // Throws xp::BadSample for a JPEG whose header is corrupt.
  // `nvjpeg`: decode() runs nvJPEG on the GPU (nvjpeg_decoder.h) instead of libjpeg-turbo.
  // `stage`: the batch decode stage (decoder = "nvjpeg_batched") that may decode it with its crop;
  // kept for baseline RGB files only (progressive ones and grey output stay on the CPU decoder).
  // `scaled`: decode_resized may decode large regions at a reduced scale (above).
  static std::optional<JpegImage> open(std::shared_ptr<const std::vector<unsigned char>> bytes, int channels,
                                       const std::string& path, bool nvjpeg = false,
                                       std::shared_ptr<BatchDecodeStage> stage = nullptr, bool scaled = false);

  int width() const override { return width_; }
  int height() const override { return height_; }
  int channels() const override { return channels_; }
  cv::Mat decode(const cv::Rect& region) const override;
  using EncodedImage::decode;
  cv::Mat decode_resized(const cv::Rect& region, cv::Size size) const override;
  std::shared_ptr<BatchDecodeStage> batch_stage() const override { return stage_; }
  const std::vector<unsigned char>& bytes() const { return *bytes_; }
  const std::string& path() const { return path_; }
  bool progressive() const { return progressive_; }

 private:
  JpegImage(std::shared_ptr<const std::vector<unsigned char>> bytes, int channels, std::string path)
      : bytes_(std::move(bytes)), channels_(channels), path_(std::move(path)) {}
  // Throws std::invalid_argument unless `region` is a non-empty part of the image.
  void check_region(const cv::Rect& region) const;
  // libjpeg-turbo's rows around `region` (checked to lie inside the image) with a margin, at
  // 1/denominator scale, full width; `origin` receives the first decoded pixel in scaled pixels.
  cv::Mat decode_rows_around(const cv::Rect& region, int denominator, cv::Point& origin) const;
  std::shared_ptr<const std::vector<unsigned char>> bytes_;
  int width_ = 0, height_ = 0, channels_ = 3;
  bool nvjpeg_ = false, progressive_ = false, scaled_ = false;
  std::string path_;
  std::shared_ptr<BatchDecodeStage> stage_;
};

// The DCT scaling denominator for decoding `region` to end up as `size`: the largest of 8, 4 and 2
// that leaves the scaled region at least `size` in both directions (so the resize after it still
// only shrinks), 1 when the region is less than twice the size.
int scaled_decode_denominator(cv::Size region, cv::Size size);

// The EXIF orientation (1-8) in a JPEG's APP1 segment, 1 when there is none (or it is unreadable).
int exif_orientation(const unsigned char* app1, size_t size);

}  // namespace xp::classification
