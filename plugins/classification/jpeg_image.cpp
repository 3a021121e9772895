#include "jpeg_image.h"

#include "nvjpeg_decoder.h"

#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <jpeglib.h>  // after <cstdio>: it uses FILE
#include <jerror.h>
#include <opencv2/imgproc.hpp>

#include <xp/errors.h>

namespace xp::classification {

namespace {

// libjpeg reports errors through a callback that must not return: it jumps back to the setjmp in
// the function that called libjpeg, which turns the message into an exception from C++ code.
// Warnings about corrupt data are ignored, as cv::imdecode ignores them, except the entropy-coded
// data ending early (the file or the segment: a truncated file that verify_end did not catch),
// which would decode partly grey.
struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated;
};

[[noreturn]] void on_error(j_common_ptr c) {
  auto* e = reinterpret_cast<ErrorManager*>(c->err);
  (*c->err->format_message)(c, e->message);
  std::longjmp(e->jump, 1);
}

void on_message(j_common_ptr c, int level) {
  auto* e = reinterpret_cast<ErrorManager*>(c->err);
  if (level == -1 && (c->err->msg_code == JWRN_JPEG_EOF || c->err->msg_code == JWRN_HIT_MARKER)) e->truncated = true;
}

void install(jpeg_decompress_struct& c, ErrorManager& e) {
  c.err = jpeg_std_error(&e.pub);
  e.pub.error_exit = on_error;
  e.pub.emit_message = on_message;
  e.message[0] = '\0';
  e.truncated = false;
}

struct Header {
  int width = 0, height = 0, orientation = 1;
  bool progressive = false;
  J_COLOR_SPACE color = JCS_UNKNOWN;
};

// Only trivially destructible objects live between setjmp and a possible longjmp.
bool read_header(const unsigned char* data, size_t size, Header& h, char* message) {
  jpeg_decompress_struct c;
  ErrorManager e;
  install(c, e);
  if (setjmp(e.jump)) {
    std::memcpy(message, e.message, JMSG_LENGTH_MAX);
    jpeg_destroy_decompress(&c);
    return false;
  }
  jpeg_create_decompress(&c);
  jpeg_mem_src(&c, data, static_cast<unsigned long>(size));
  jpeg_save_markers(&c, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(&c, TRUE);
  h.width = static_cast<int>(c.image_width);
  h.height = static_cast<int>(c.image_height);
  h.color = c.jpeg_color_space;
  h.progressive = c.progressive_mode != 0;
  for (jpeg_saved_marker_ptr m = c.marker_list; m; m = m->next)
    if (m->marker == JPEG_APP0 + 1) h.orientation = exif_orientation(m->data, m->data_length);
  jpeg_destroy_decompress(&c);
  return true;
}

// Decodes rows [want.y, want.y + want.height) and at least columns [want.x, want.x + want.width)
// into `rows` (want.height x full width, preallocated by the caller). `x_offset` receives the
// first decoded column: libjpeg widens the column range to whole iMCUs. `denominator` > 1: the
// image is decoded at 1/denominator scale, and `want` and `rows` are in scaled pixels.
bool decode_rows(const unsigned char* data, size_t size, int channels, const cv::Rect& want, cv::Mat& rows,
                 int& x_offset, char* message, bool& truncated, int denominator = 1) {
  jpeg_decompress_struct c;
  ErrorManager e;
  install(c, e);
  if (setjmp(e.jump)) {
    std::memcpy(message, e.message, JMSG_LENGTH_MAX);
    jpeg_destroy_decompress(&c);
    return false;
  }
  jpeg_create_decompress(&c);
  jpeg_mem_src(&c, data, static_cast<unsigned long>(size));
  jpeg_read_header(&c, TRUE);
  c.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  c.scale_num = 1;
  c.scale_denom = static_cast<unsigned int>(denominator);
  jpeg_start_decompress(&c);
  JDIMENSION x = static_cast<JDIMENSION>(want.x), w = static_cast<JDIMENSION>(want.width);
  if (w < c.output_width) jpeg_crop_scanline(&c, &x, &w);
  if (want.y > 0) jpeg_skip_scanlines(&c, static_cast<JDIMENSION>(want.y));
  for (int r = 0; r < want.height; ++r) {
    JSAMPROW row = rows.ptr<unsigned char>(r);
    jpeg_read_scanlines(&c, &row, 1);
  }
  if (c.output_scanline < c.output_height)
    jpeg_abort_decompress(&c);  // rows below the region are never decoded
  else
    jpeg_finish_decompress(&c);
  truncated = e.truncated;
  jpeg_destroy_decompress(&c);
  x_offset = static_cast<int>(x);
  return true;
}

uint32_t read_u32(const unsigned char* p, bool little) {
  return little ? (uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24)
                : (uint32_t{p[3]} | uint32_t{p[2]} << 8 | uint32_t{p[1]} << 16 | uint32_t{p[0]} << 24);
}

uint16_t read_u16(const unsigned char* p, bool little) {
  return static_cast<uint16_t>(little ? (p[0] | p[1] << 8) : (p[1] | p[0] << 8));
}

}  // namespace

int exif_orientation(const unsigned char* app1, size_t size) {
  // "Exif\0\0", then a TIFF header: byte order, 42, offset of the first IFD (from the TIFF start).
  if (size < 14 || std::memcmp(app1, "Exif\0\0", 6) != 0) return 1;
  const unsigned char* tiff = app1 + 6;
  const size_t n = size - 6;
  const bool little = tiff[0] == 'I' && tiff[1] == 'I';
  if (!little && !(tiff[0] == 'M' && tiff[1] == 'M')) return 1;
  if (read_u16(tiff + 2, little) != 42) return 1;
  const size_t ifd = read_u32(tiff + 4, little);
  if (ifd + 2 > n) return 1;
  const size_t entries = read_u16(tiff + ifd, little);
  for (size_t i = 0; i < entries; ++i) {
    const size_t at = ifd + 2 + 12 * i;
    if (at + 12 > n) return 1;
    if (read_u16(tiff + at, little) == 0x0112) {  // Orientation, a SHORT stored in the value field
      const int v = read_u16(tiff + at + 8, little);
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}

std::optional<JpegImage> JpegImage::open(std::shared_ptr<const std::vector<unsigned char>> bytes, int channels,
                                         const std::string& path, bool nvjpeg,
                                         std::shared_ptr<BatchDecodeStage> stage, bool scaled) {
  const auto& b = *bytes;
  if (b.size() < 4 || b[0] != 0xFF || b[1] != 0xD8) return std::nullopt;
  Header h;
  char message[JMSG_LENGTH_MAX];
  if (!read_header(b.data(), b.size(), h, message)) throw BadSample(path, std::string("corrupt JPEG header: ") + message);
  if (h.color == JCS_CMYK || h.color == JCS_YCCK || h.orientation != 1) return std::nullopt;
  if (h.width <= 0 || h.height <= 0) throw BadSample(path, "JPEG header gives an empty image");
  JpegImage image(std::move(bytes), channels, path);
  image.width_ = h.width;
  image.height_ = h.height;
  image.nvjpeg_ = nvjpeg;
  image.progressive_ = h.progressive;
  image.scaled_ = scaled && !nvjpeg;
  if (!h.progressive && channels == 3) image.stage_ = std::move(stage);
  return image;
}

void JpegImage::check_region(const cv::Rect& region) const {
  const cv::Rect whole(0, 0, width_, height_);
  if (region.empty() || (region & whole) != region)
    throw std::invalid_argument(path_ + ": region outside the " + std::to_string(width_) + "x" +
                                std::to_string(height_) + " image");
}

cv::Mat JpegImage::decode_rows_around(const cv::Rect& region, int denominator, cv::Point& origin) const {
  check_region(region);
  // A margin of whole chroma blocks: upsampling at the region's edges then reads real neighbours. At
  // a reduced scale the image is ceil(width / d) x ceil(height / d), its pixel j covering source
  // pixels [j d, (j + 1) d); the region and the margin are taken in those pixels.
  const int d = denominator;
  const int margin = d == 1 ? 16 : 16 / d + 2;
  const int x0 = region.x / d, y0 = region.y / d;
  const int x1 = (region.x + region.width + d - 1) / d, y1 = (region.y + region.height + d - 1) / d;
  const int scaled_w = (width_ + d - 1) / d, scaled_h = (height_ + d - 1) / d;
  const cv::Rect want = cv::Rect(x0 - margin, y0 - margin, x1 - x0 + 2 * margin, y1 - y0 + 2 * margin) &
                        cv::Rect(0, 0, scaled_w, scaled_h);
  cv::Mat rows(want.height, scaled_w, CV_8UC(channels_));
  int x_offset = 0;
  bool truncated = false;
  char message[JMSG_LENGTH_MAX];
  if (!decode_rows(bytes_->data(), bytes_->size(), channels_, want, rows, x_offset, message, truncated, d))
    throw BadSample(path_, std::string("corrupt JPEG: ") + message);
  if (truncated) throw BadSample(path_, "truncated JPEG data (the entropy-coded data ends early)");
  origin = cv::Point(x_offset, want.y);
  return rows;
}

cv::Mat JpegImage::decode(const cv::Rect& region) const {
  if (nvjpeg_) {
    check_region(region);
    return nvjpeg_decode(*bytes_, channels_, region, width_, height_, path_);
  }
  cv::Point origin;
  const cv::Mat rows = decode_rows_around(region, 1, origin);
  return rows(cv::Rect(region.x - origin.x, region.y - origin.y, region.width, region.height)).clone();
}

int scaled_decode_denominator(cv::Size region, cv::Size size) {
  if (size.width <= 0 || size.height <= 0) return 1;
  for (int d : {8, 4, 2})
    if (region.width >= d * size.width && region.height >= d * size.height) return d;
  return 1;
}

cv::Mat JpegImage::decode_resized(const cv::Rect& region, cv::Size size) const {
  const int d = scaled_ ? scaled_decode_denominator(region.size(), size) : 1;
  if (d == 1) return EncodedImage::decode_resized(region, size);
  cv::Point origin;  // the decoded rows' first pixel, in scaled pixels
  const cv::Mat rows = decode_rows_around(region, d, origin);
  // The full-scale path's geometry (cv::resize: output pixel u samples source coordinate
  // x + (u + 0.5) w / W - 0.5), mapped into the decoded scaled rows, whose first pixel is scaled
  // pixel `origin`: scaled index = source coordinate / d - 0.5 (+ 0.5 / d for the centre).
  const double sx = static_cast<double>(region.width) / size.width, sy = static_cast<double>(region.height) / size.height;
  cv::Matx23d map(sx / d, 0.0, (region.x + 0.5 * sx) / d - 0.5 - origin.x,  //
                  0.0, sy / d, (region.y + 0.5 * sy) / d - 0.5 - origin.y);
  cv::Mat out;
  cv::warpAffine(rows, out, map, size, cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
  return out;
}

}  // namespace xp::classification
