#include "xp/encoded_image.h"

#include <opencv2/imgproc.hpp>

namespace xp {

cv::Mat EncodedImage::decode_resized(const cv::Rect& region, cv::Size size) const {
  cv::Mat out;
  cv::resize(decode(region), out, size, 0, 0, cv::INTER_LINEAR);
  return out;
}

}  // namespace xp
