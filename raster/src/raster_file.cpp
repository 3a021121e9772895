#include "xp/raster/raster_file.h"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#ifdef XP_HAVE_GDAL
#include <cpl_error.h>
#include <gdal.h>
#endif

#include "xp/errors.h"

namespace xp::raster {
namespace {

namespace fs = std::filesystem;

std::string lower_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

[[noreturn]] void missing_or_bad(const fs::path& path, const std::string& reason) {
  std::error_code ec;
  throw BadSample(path.string(), fs::exists(path, ec) ? reason : "missing file");
}

#ifdef XP_HAVE_GDAL
int cv_depth(GDALDataType type) {
  switch (type) {
    case GDT_Byte: return CV_8U;
    case GDT_UInt16: return CV_16U;
    case GDT_Int16: return CV_16S;
    case GDT_Int32: return CV_32S;
    case GDT_Float32: return CV_32F;
    case GDT_Float64: return CV_64F;
    default: return -1;  // complex, 32-bit unsigned: read as float below
  }
}

cv::Mat read_with_gdal(const fs::path& path) {
  static std::once_flag once;
  std::call_once(once, [] { GDALAllRegister(); });
  // GDAL keeps its last error per thread; the quiet handler stops it printing to stderr, the
  // message goes into the BadSample instead.
  CPLPushErrorHandler(CPLQuietErrorHandler);
  struct PopHandler {
    ~PopHandler() { CPLPopErrorHandler(); }
  } pop;
  CPLErrorReset();
  GDALDatasetH dataset = GDALOpen(path.string().c_str(), GA_ReadOnly);
  if (!dataset) missing_or_bad(path, std::string("cannot read raster: ") + CPLGetLastErrorMsg());
  struct Close {
    GDALDatasetH d;
    ~Close() { GDALClose(d); }
  } close{dataset};
  const int w = GDALGetRasterXSize(dataset), h = GDALGetRasterYSize(dataset), n = GDALGetRasterCount(dataset);
  if (n < 1 || w < 1 || h < 1) throw BadSample(path.string(), "raster has no bands or no pixels");
  int depth = cv_depth(GDALGetRasterDataType(GDALGetRasterBand(dataset, 1)));
  for (int b = 2; b <= n; ++b)
    if (cv_depth(GDALGetRasterDataType(GDALGetRasterBand(dataset, b))) != depth) depth = CV_32F;  // mixed types
  if (depth < 0) depth = CV_32F;
  const GDALDataType read_as = depth == CV_8U    ? GDT_Byte
                               : depth == CV_16U ? GDT_UInt16
                               : depth == CV_16S ? GDT_Int16
                               : depth == CV_32S ? GDT_Int32
                               : depth == CV_64F ? GDT_Float64
                                                 : GDT_Float32;
  std::vector<cv::Mat> planes;
  for (int b = 1; b <= n; ++b) {
    cv::Mat plane(h, w, CV_MAKETYPE(depth, 1));
    if (GDALRasterIO(GDALGetRasterBand(dataset, b), GF_Read, 0, 0, w, h, plane.data, w, h, read_as, 0, 0) != CE_None)
      throw BadSample(path.string(), "cannot read band " + std::to_string(b) + ": " + CPLGetLastErrorMsg());
    planes.push_back(plane);
  }
  cv::Mat out;
  cv::merge(planes, out);
  return out;
}
#endif

}  // namespace

bool raster_has_gdal() {
#ifdef XP_HAVE_GDAL
  return true;
#else
  return false;
#endif
}

cv::Mat read_raster(const fs::path& path) {
  const std::string ext = lower_extension(path);
#ifdef XP_HAVE_GDAL
  if (ext == ".tif" || ext == ".tiff") return read_with_gdal(path);
#endif
  cv::Mat image;
  try {
    image = cv::imread(path.string(), cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    missing_or_bad(path, std::string("cannot decode: ") + e.what());
  }
  if (image.empty()) {
    std::string reason = "cannot decode image";
    if ((ext == ".tif" || ext == ".tiff") && !raster_has_gdal())
      reason += " (this xp was built without GDAL, so TIFFs go through OpenCV, which reads at most 4 bands; "
                "install libgdal-dev and rebuild)";
    missing_or_bad(path, reason);
  }
  if (image.channels() == 3) cv::cvtColor(image, image, cv::COLOR_BGR2RGB);
  else if (image.channels() == 4) cv::cvtColor(image, image, cv::COLOR_BGRA2RGBA);
  return image;
}

}  // namespace xp::raster
