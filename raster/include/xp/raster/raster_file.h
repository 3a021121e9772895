#pragma once
// Reading one raster file with every band and its bit depth intact: 8- and 16-bit (and float)
// PNG/TIFF, and TIFFs of any number of bands. OpenCV reads PNG and TIFFs of up to 4 bands; TIFFs go
// through GDAL when xp was built with it (libgdal-dev), which also reads GeoTIFFs of N bands.

#include <filesystem>
#include <string>

#include <opencv2/core.hpp>

namespace xp::raster {

// H x W x C in the file's own depth (CV_8U, CV_16U, CV_16S, CV_32F...), bands in file order (RGB
// for colour images, not OpenCV's BGR). Throws xp::BadSample naming the file when it is missing or
// cannot be decoded.
cv::Mat read_raster(const std::filesystem::path& path);

// True when this build reads TIFFs through GDAL (any number of bands).
bool raster_has_gdal();

}  // namespace xp::raster
