#include "inference/scene_raster.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include <fstream>

#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "inference/run_model.h"
#include "xp/errors.h"

#ifdef XP_HAVE_ZLIB
#include <zlib.h>
#endif

#ifdef XP_HAVE_GDAL
#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal.h>
#endif

namespace xp::inference {

namespace fs = std::filesystem;

namespace {

// Files larger than this are not decoded whole: OpenCV refuses images over 2^30 pixels anyway, and
// a whole decode of such a scene alone would take gigabytes.
constexpr uintmax_t kLargestWholeDecode = uintmax_t{2} << 30;

class MatReader : public SceneReader {
 public:
  explicit MatReader(cv::Mat scene) : scene_(std::move(scene)) {
    width = scene_.cols, height = scene_.rows, channels = scene_.channels();
  }
  cv::Mat rows(int y0, int n) override { return scene_.rowRange(y0, y0 + n); }

 private:
  cv::Mat scene_;
};

#ifdef XP_HAVE_GDAL
std::string gdal_error() {
  const char* m = CPLGetLastErrorMsg();
  return m && *m ? m : "GDAL gave no reason";
}

// Silences GDAL's own printing while in scope: failures become xp's errors and skips.
struct QuietGdal {
  QuietGdal() { CPLPushErrorHandler(CPLQuietErrorHandler); }
  ~QuietGdal() { CPLPopErrorHandler(); }
};

void register_gdal() {
  static const bool once = [] {
    GDALAllRegister();
    // GDAL caches raster blocks up to 5 % of the machine's memory by default, dirty blocks of the
    // outputs included: that would grow with the scene up to gigabytes. 64 MiB holds the strips in
    // flight; GDAL_CACHEMAX still overrides it.
    if (!std::getenv("GDAL_CACHEMAX")) GDALSetCacheMax64(int64_t{64} << 20);
    return true;
  }();
  (void)once;
}

class GdalReader : public SceneReader {
 public:
  GdalReader(GDALDatasetH ds, std::vector<int> bands, GDALDataType type, int convert)
      : ds_(ds), bands_(std::move(bands)), type_(type), convert_(convert) {}
  ~GdalReader() override { GDALClose(ds_); }

  cv::Mat rows(int y0, int n) override {
    const int nb = static_cast<int>(bands_.size());
    cv::Mat raw(n, width, CV_MAKETYPE(type_ == GDT_Byte ? CV_8U : CV_16U, nb));
    const int item = static_cast<int>(raw.elemSize1());
    QuietGdal quiet;
    if (GDALDatasetRasterIO(ds_, GF_Read, 0, y0, width, n, raw.data, width, n, type_, nb, bands_.data(), item * nb,
                            static_cast<GSpacing>(raw.step[0]), item) != CE_None)
      throw ConfigError("cannot read rows " + std::to_string(y0) + ".." + std::to_string(y0 + n) + ": " + gdal_error());
    if (type_ != GDT_Byte) raw.convertTo(raw, CV_8U, 1.0 / 257.0);  // as read_image scales 16-bit files
    if (convert_ < 0) return raw;
    cv::Mat out;
    cv::cvtColor(raw, out, convert_);
    return out;
  }

 private:
  GDALDatasetH ds_;
  std::vector<int> bands_;
  GDALDataType type_;
  int convert_;  // cv::COLOR_* applied after reading, or -1
};

// The scene through GDAL, or null when GDAL cannot open it (the caller falls back to OpenCV).
std::unique_ptr<SceneReader> open_with_gdal(const std::string& path, int channels, std::string& reason) {
  register_gdal();
  QuietGdal quiet;
  GDALDatasetH ds = GDALOpen(path.c_str(), GA_ReadOnly);
  if (!ds) return nullptr;
  const int have = GDALGetRasterCount(ds);
  if (have < 1) {
    GDALClose(ds);
    return nullptr;
  }
  const GDALDataType type = GDALGetRasterDataType(GDALGetRasterBand(ds, 1));
  if (type != GDT_Byte && type != GDT_UInt16) {
    GDALClose(ds);
    reason = std::string("pixel type is not 8 or 16 bit (GDAL: ") + GDALGetDataTypeName(type) + ")";
    return {};
  }
  // The same channel rules as read_image: grey+alpha is grey, alpha is dropped, grey and colour
  // convert into each other, other counts must match.
  const int usable = have == 2 ? 1 : have;
  std::vector<int> bands;
  int convert = -1;
  if (channels == 1 && usable <= 4) {
    bands = usable == 1 ? std::vector<int>{1} : std::vector<int>{1, 2, 3};
    if (usable != 1) convert = cv::COLOR_RGB2GRAY;
  } else if (channels == 3 && usable <= 4) {
    bands = usable == 1 ? std::vector<int>{1} : std::vector<int>{1, 2, 3};
    if (usable == 1) convert = cv::COLOR_GRAY2RGB;
  } else if (usable == channels) {
    for (int b = 1; b <= have; ++b) bands.push_back(b);
  } else {
    GDALClose(ds);
    throw ConfigError(path + " has " + std::to_string(have) + " channels; the model takes " + std::to_string(channels));
  }
  auto reader = std::make_unique<GdalReader>(ds, bands, type, convert);
  reader->width = GDALGetRasterXSize(ds);
  reader->height = GDALGetRasterYSize(ds);
  reader->channels = channels;
  reader->streamed = true;
  double t[6];
  if (GDALGetGeoTransform(ds, t) == CE_None) {
    std::copy(t, t + 6, reader->georeference.transform.begin());
    reader->georeference.has_transform = true;
  }
  if (const char* wkt = GDALGetProjectionRef(ds); wkt && *wkt) reader->georeference.projection = wkt;
  return reader;
}
#endif

#ifdef XP_HAVE_ZLIB
// A one-band 8- or 16-bit PNG written as rows arrive: no whole raster in memory, no encoding left
// for the end. Each call's rows are cut into pieces of about 64 KiB that are deflated side by side
// (OpenCV's threads), each ending on a byte boundary (Z_SYNC_FLUSH) so that they concatenate into
// one zlib stream, as pigz does; each piece is one IDAT chunk. Rows are unfiltered (filter 0).
// Deflate's run-length strategy: a probability map's low bytes are noise that string matching
// does not shorten (level 1 kept 99 % of the bytes of a smooth 16-bit field, at 43 MB/s a core),
// while runs (background, masks) still shrink; it compresses about 3x faster.
class PngStream {
 public:
  PngStream(const std::string& path, int width, int height, int depth)
      : path_(path), width_(width), height_(height), depth_(depth), out_(path, std::ios::binary) {
    if (!out_) throw ConfigError(path + ": cannot create: " + std::strerror(errno));
    out_.write("\x89PNG\r\n\x1a\n", 8);
    std::string ihdr;
    put32(ihdr, static_cast<uint32_t>(width));
    put32(ihdr, static_cast<uint32_t>(height));
    ihdr += static_cast<char>(depth);
    ihdr += std::string("\0\0\0\0", 4);  // grey, deflate, filter 0, no interlace
    chunk("IHDR", ihdr);
    chunk("IDAT", std::string("\x78\x01", 2));  // the zlib header of the one stream
  }

  void write_rows(const cv::Mat& rows) {
    const size_t row_bytes = 1 + static_cast<size_t>(width_) * (depth_ / 8);
    const int per_piece = std::max(1, static_cast<int>((size_t{64} << 10) / row_bytes));
    const int pieces = (rows.rows + per_piece - 1) / per_piece;
    std::vector<std::string> data(static_cast<size_t>(pieces));
    std::vector<uLong> adler(static_cast<size_t>(pieces)), length(static_cast<size_t>(pieces));
    std::vector<std::string> failed(static_cast<size_t>(pieces));
    cv::parallel_for_(cv::Range(0, pieces), [&](const cv::Range& range) {
      std::vector<unsigned char> raw;
      for (int k = range.start; k < range.end; ++k) {
        const int r0 = k * per_piece, r1 = std::min(rows.rows, r0 + per_piece);
        raw.resize(row_bytes * static_cast<size_t>(r1 - r0));
        unsigned char* at = raw.data();
        for (int r = r0; r < r1; ++r) {
          *at++ = 0;  // filter: none
          if (depth_ == 8) {
            std::memcpy(at, rows.ptr(r), row_bytes - 1);
            at += row_bytes - 1;
          } else {  // PNG's 16-bit samples are big-endian
            const uint16_t* v = rows.ptr<uint16_t>(r);
            for (int x = 0; x < width_; ++x) *at++ = static_cast<unsigned char>(v[x] >> 8), *at++ = static_cast<unsigned char>(v[x]);
          }
        }
        const size_t k_ = static_cast<size_t>(k);
        adler[k_] = adler32(adler32(0L, Z_NULL, 0), raw.data(), static_cast<uInt>(raw.size()));
        length[k_] = static_cast<uLong>(raw.size());
        z_stream z{};
        if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, -15, 8, Z_RLE) != Z_OK) {
          failed[k_] = "deflateInit2 failed";
          continue;
        }
        std::string& d = data[k_];
        d.resize(deflateBound(&z, static_cast<uLong>(raw.size())) + 16);
        z.next_in = raw.data();
        z.avail_in = static_cast<uInt>(raw.size());
        z.next_out = reinterpret_cast<Bytef*>(d.data());
        z.avail_out = static_cast<uInt>(d.size());
        const int rc = deflate(&z, Z_SYNC_FLUSH);
        if (rc != Z_OK || z.avail_in != 0) failed[k_] = "deflate failed";
        d.resize(d.size() - z.avail_out);
        deflateEnd(&z);
      }
    });
    for (size_t k = 0; k < data.size(); ++k) {
      if (!failed[k].empty()) throw ConfigError(path_ + ": cannot write: " + failed[k]);
      adler_ = adler32_combine(adler_, adler[k], static_cast<z_off_t>(length[k]));
      chunk("IDAT", data[k]);
    }
    rows_ += rows.rows;
  }

  void close() {
    if (rows_ != height_) throw ConfigError(path_ + ": " + std::to_string(rows_) + " of " + std::to_string(height_) + " rows written");
    std::string tail("\x03\x00", 2);  // an empty final block closes the deflate stream
    put32(tail, static_cast<uint32_t>(adler_));
    chunk("IDAT", tail);
    chunk("IEND", "");
    out_.close();
    if (!out_) throw ConfigError(path_ + ": cannot write: " + std::strerror(errno));
  }

 private:
  static void put32(std::string& s, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((v >> shift) & 0xFF);
  }
  void chunk(const char* type, const std::string& body) {
    std::string head;
    put32(head, static_cast<uint32_t>(body.size()));
    head.append(type, 4);
    uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(type), 4);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
    std::string tail;
    put32(tail, static_cast<uint32_t>(crc));
    out_.write(head.data(), static_cast<std::streamsize>(head.size()));
    out_.write(body.data(), static_cast<std::streamsize>(body.size()));
    out_.write(tail.data(), static_cast<std::streamsize>(tail.size()));
    if (!out_) throw ConfigError(path_ + ": cannot write: " + std::strerror(errno));
  }

  std::string path_;
  int width_, height_, depth_;
  std::ofstream out_;
  uLong adler_ = 1;  // adler32 of nothing
  int rows_ = 0;
};
#endif

}  // namespace

bool scene_io_has_gdal() {
#ifdef XP_HAVE_GDAL
  return true;
#else
  return false;
#endif
}

std::unique_ptr<SceneReader> scene_from_mat(const cv::Mat& scene) { return std::make_unique<MatReader>(scene); }

std::unique_ptr<SceneReader> open_scene(const std::string& path, int channels, std::string& reason) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    reason = "no such file";
    return {};
  }
#ifdef XP_HAVE_GDAL
  if (auto r = open_with_gdal(path, channels, reason)) return r;
  if (!reason.empty()) return {};
#endif
  // OpenCV decodes the whole file (formats GDAL does not read, or a build without GDAL).
  const uintmax_t bytes = fs::file_size(path, ec);
  if (!ec && bytes > kLargestWholeDecode)
    throw ConfigError(path + " is " + std::to_string(bytes >> 20) + " MiB: too large to decode whole; " +
                      (scene_io_has_gdal() ? "GDAL cannot open it to read it in strips (convert it to a GeoTIFF)"
                                           : "reading it in strips needs GDAL (install libgdal-dev and rebuild xp)"));
  cv::Mat scene = read_image(path, channels, reason);
  if (scene.empty()) return {};
  return std::make_unique<MatReader>(scene);
}

struct RasterWriter::Impl {
  std::string path;
  int width = 0, height = 0, type = 0;
  int next_row = 0;
  bool closed = false;
  cv::Mat whole;  // without GDAL
#ifdef XP_HAVE_ZLIB
  std::unique_ptr<PngStream> png;  // .png outputs, streamed
#endif
#ifdef XP_HAVE_GDAL
  GDALDatasetH ds = nullptr;
  std::string strip_file;  // the temporary TIFF behind a PNG
#endif
};

RasterWriter::RasterWriter(const std::string& path, int width, int height, int type, const Georeference& geo)
    : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  d.path = path, d.width = width, d.height = height, d.type = type;
  const std::string ext = fs::path(path).extension().string();
  const bool tiff = ext == ".tif" || ext == ".tiff";
  if (!tiff && ext != ".png") throw ConfigError(path + ": rasters are written as .png or .tif");
  if (!tiff && type == CV_32F) throw ConfigError(path + ": float rasters are written as .tif");
  if (!geo.empty() && !tiff) throw ConfigError(path + ": georeferenced rasters are written as GeoTIFF (.tif)");
#ifdef XP_HAVE_ZLIB
  if (!tiff) {
    d.png = std::make_unique<PngStream>(path, width, height, type == CV_16U ? 16 : 8);
    return;
  }
#endif
#ifdef XP_HAVE_GDAL
  register_gdal();
  QuietGdal quiet;
  GDALDriverH gtiff = GDALGetDriverByName("GTiff");
  if (!gtiff) throw ConfigError("GDAL has no GTiff driver");
  d.strip_file = tiff ? "" : path + ".strips.tif";
  const GDALDataType gtype = type == CV_8U ? GDT_Byte : type == CV_16U ? GDT_UInt16 : GDT_Float32;
  char** options = nullptr;
  options = CSLSetNameValue(options, "BIGTIFF", "IF_SAFER");
  if (tiff) options = CSLSetNameValue(options, "COMPRESS", "DEFLATE");
  d.ds = GDALCreate(gtiff, (tiff ? path : d.strip_file).c_str(), width, height, 1, gtype, options);
  CSLDestroy(options);
  if (!d.ds) throw ConfigError(path + ": cannot create: " + gdal_error());
  if (geo.has_transform) {
    double t[6];
    std::copy(geo.transform.begin(), geo.transform.end(), t);
    GDALSetGeoTransform(d.ds, t);
  }
  if (!geo.projection.empty()) GDALSetProjection(d.ds, geo.projection.c_str());
#else
  if (!geo.empty())
    throw ConfigError(path + ": georeferenced output needs GDAL; this xp was built without it (install libgdal-dev "
                      "and rebuild, or pass --georef no)");
  d.whole = cv::Mat(height, width, type, cv::Scalar(0));
#endif
}

RasterWriter::~RasterWriter() {
  if (!impl_ || impl_->closed) return;
  try {
    close();
  } catch (...) {
  }
}

void RasterWriter::write_rows(int y0, const cv::Mat& rows) {
  Impl& d = *impl_;
  if (rows.type() != d.type || rows.cols != d.width || y0 != d.next_row || y0 + rows.rows > d.height)
    throw ConfigError(d.path + ": rows written out of order or of another type or width");
  d.next_row += rows.rows;
#ifdef XP_HAVE_ZLIB
  if (d.png) {
    d.png->write_rows(rows);
    return;
  }
#endif
#ifdef XP_HAVE_GDAL
  const GDALDataType gtype = d.type == CV_8U ? GDT_Byte : d.type == CV_16U ? GDT_UInt16 : GDT_Float32;
  QuietGdal quiet;
  if (GDALRasterIOEx(GDALGetRasterBand(d.ds, 1), GF_Write, 0, y0, d.width, rows.rows, rows.data, d.width, rows.rows,
                     gtype, static_cast<GSpacing>(rows.elemSize()), static_cast<GSpacing>(rows.step[0]),
                     nullptr) != CE_None)
    throw ConfigError(d.path + ": cannot write: " + gdal_error());
#else
  rows.copyTo(d.whole.rowRange(y0, y0 + rows.rows));
#endif
}

void RasterWriter::close() {
  Impl& d = *impl_;
  if (d.closed) return;
  d.closed = true;
#ifdef XP_HAVE_ZLIB
  if (d.png) {
    d.png->close();
    return;
  }
#endif
#ifdef XP_HAVE_GDAL
  QuietGdal quiet;
  CPLErrorReset();
  GDALClose(d.ds);  // flushes
  if (CPLGetLastErrorType() >= CE_Failure) throw ConfigError(d.path + ": cannot write: " + gdal_error());
  if (!d.strip_file.empty()) {
    // PNG: one pass over the strip TIFF, which GDAL reads row by row.
    GDALDatasetH src = GDALOpen(d.strip_file.c_str(), GA_ReadOnly);
    GDALDriverH png = GDALGetDriverByName("PNG");
    char** options = CSLSetNameValue(nullptr, "ZLEVEL", "1");
    options = CSLSetNameValue(options, "WORLDFILE", "NO");
    GDALDatasetH out = src && png ? GDALCreateCopy(png, d.path.c_str(), src, FALSE, options, nullptr, nullptr) : nullptr;
    CSLDestroy(options);
    const std::string why = out ? "" : gdal_error();
    if (out) GDALClose(out);
    if (src) GDALClose(src);
    std::error_code ec;
    fs::remove(d.strip_file, ec);
    fs::remove(d.path + ".aux.xml", ec);  // GDAL's sidecar for metadata PNG cannot hold
    if (!out) throw ConfigError(d.path + ": cannot write: " + why);
  }
#else
  bool ok = false;
  try {
    ok = cv::imwrite(d.path, d.whole);
  } catch (const cv::Exception& e) {
    throw ConfigError(d.path + ": cannot write: " + e.what());
  }
  if (!ok) throw ConfigError(d.path + ": cannot write: " + std::strerror(errno));
  d.whole.release();
#endif
}

}  // namespace xp::inference
