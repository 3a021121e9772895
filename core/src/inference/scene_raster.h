#pragma once
// Scenes read and written strip by strip, so a scene of any size passes through a bounded amount
// of host memory, and GeoTIFF georeferencing (geotransform + projection) carried from the input to
// the outputs. Both go through GDAL where xp was built with it (libgdal-dev); without GDAL, scenes
// are decoded whole by OpenCV and outputs are encoded whole, and asking for georeferenced output
// or a scene too large to decode whole is a ConfigError.

#include <array>
#include <memory>
#include <string>

#include <opencv2/core.hpp>

namespace xp::inference {

// True when this build reads and writes scenes through GDAL.
bool scene_io_has_gdal();

// Where a raster lies on the Earth: GDAL's affine geotransform (x0, dx, rx, y0, ry, dy) and the
// coordinate reference system as WKT.
struct Georeference {
  std::array<double, 6> transform{0, 1, 0, 0, 0, 1};
  bool has_transform = false;
  std::string projection;
  bool empty() const { return !has_transform && projection.empty(); }
};

// A decoded scene, rows on demand: uint8, channels as the model takes them (RGB for 3, grey for 1,
// other counts as stored), exactly as read_image decodes the whole file.
class SceneReader {
 public:
  virtual ~SceneReader() = default;
  int width = 0, height = 0, channels = 0;
  Georeference georeference;  // empty for plain images
  bool streamed = false;      // rows are decoded on demand (GDAL) rather than held whole
  // Rows [y0, y0 + n) as a CV_8UC(channels) n x width matrix. Throws xp::ConfigError on a read error.
  virtual cv::Mat rows(int y0, int n) = 0;
};

// The scene in a file. Returns null with `reason` set when it cannot be read (the caller skips it);
// throws xp::ConfigError when it has a channel count the model cannot take, or when it is too large
// to decode whole and this build has no GDAL to read it in strips.
std::unique_ptr<SceneReader> open_scene(const std::string& path, int channels, std::string& reason);

// A scene already in memory (tests, multi-scale inference).
std::unique_ptr<SceneReader> scene_from_mat(const cv::Mat& scene);

// One-band output raster written in rows from top to bottom: `.png` (8 or 16 bit) or `.tif`
// (8, 16 bit or float32). Where xp was built with zlib, a PNG is written as rows come (deflated in
// parallel pieces). Otherwise, and for `.tif`: with GDAL rows go to disk as they come (a PNG
// through a temporary strip TIFF beside it, converted at close); a georeference is written into
// `.tif` outputs. Without GDAL (and without zlib for PNG) the raster is held and encoded at close.
class RasterWriter {
 public:
  // type: CV_8U, CV_16U or CV_32F. Throws xp::ConfigError when the file cannot be created, or for a
  // georeference without GDAL or on a non-TIFF file.
  RasterWriter(const std::string& path, int width, int height, int type, const Georeference& georeference = {});
  ~RasterWriter();
  RasterWriter(const RasterWriter&) = delete;
  RasterWriter& operator=(const RasterWriter&) = delete;
  void write_rows(int y0, const cv::Mat& rows);
  void close();  // throws xp::ConfigError with the reason when the file cannot be finished

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace xp::inference
