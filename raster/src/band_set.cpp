#include "xp/raster/band_set.h"

#include <algorithm>
#include <cctype>

#include "xp/raster/raster_file.h"
#include "xp/errors.h"

namespace xp::raster {

namespace {
namespace fs = std::filesystem;

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}
}  // namespace

BandSet::BandSet(std::vector<std::string> bands, std::vector<std::string> image_bands)
    : bands_(std::move(bands)), image_bands_(std::move(image_bands)) {}

std::vector<std::string> BandSet::image_names(int channels) const {
  if (!image_bands_.empty()) return image_bands_;
  if (channels == 1) return {"gray"};
  if (channels == 3) return {"red", "green", "blue"};
  if (channels == 4) return {"red", "green", "blue", "alpha"};
  std::vector<std::string> names;
  for (int i = 1; i <= channels; ++i) names.push_back("b" + std::to_string(i));
  return names;
}

std::vector<std::string> BandSet::non_image_bands() const {
  static const std::vector<std::string> kDefaultNames = {"gray", "red", "green", "blue", "alpha"};
  std::vector<std::string> out;
  for (const auto& band : bands_) {
    const auto& known = image_bands_.empty() ? kDefaultNames : image_bands_;
    if (std::find(known.begin(), known.end(), band) != known.end()) continue;
    // b1..bN name the bands of an N-band file whose bands are not named.
    if (image_bands_.empty() && band.size() > 1 && band[0] == 'b' &&
        std::all_of(band.begin() + 1, band.end(), [](unsigned char c) { return std::isdigit(c); }))
      continue;
    out.push_back(band);
  }
  return out;
}

std::vector<std::string> BandSet::unknown_bands(const fs::path& base) const {
  std::vector<std::string> unknown;
  for (const auto& band : non_image_bands()) {
    std::error_code ec;
    if (!fs::is_directory(base / band, ec)) unknown.push_back(band);
  }
  return unknown;
}

fs::path BandSet::band_file(const fs::path& base, const std::string& band, const fs::path& image) {
  const std::string stem = image.stem().string();
  const std::string own = image.extension().string();
  for (const std::string& ext : {std::string(".tif"), std::string(".tiff"), std::string(".png"), own}) {
    fs::path p = base / band / (stem + ext);
    std::error_code ec;
    if (fs::exists(p, ec)) return p;
  }
  return base / band / (stem + ".tif");
}

cv::Mat merge_bands(const std::vector<cv::Mat>& planes) {
  bool all_u8 = true, all_u16 = true;
  for (const auto& p : planes) {
    all_u8 = all_u8 && p.depth() == CV_8U;
    all_u16 = all_u16 && (p.depth() == CV_8U || p.depth() == CV_16U);
  }
  const int depth = all_u8 ? CV_8U : all_u16 ? CV_16U : CV_32F;
  std::vector<cv::Mat> same;
  for (const auto& p : planes) {
    if (p.depth() == depth) {
      same.push_back(p);
    } else {
      cv::Mat c;
      p.convertTo(c, depth);  // values kept: 8 -> 16 bit and ints -> float are exact
      same.push_back(c);
    }
  }
  cv::Mat out;
  cv::merge(same, out);
  return out;
}

cv::Mat BandSet::load(const fs::path& image_path, const fs::path& base) const {
  cv::Mat image;  // read on first use: a sample may take every band from band files
  std::vector<std::string> names;
  std::vector<cv::Mat> planes;
  std::vector<cv::Mat> image_planes;
  cv::Size size;
  bool have_size = false;
  for (const auto& band : bands_) {
    cv::Mat plane;
    // A band of the image file when the image has it (by explicit or default names), else a file.
    if (image.empty()) {
      const bool might_be_image_band = !image_bands_.empty()
                                           ? std::find(image_bands_.begin(), image_bands_.end(), band) != image_bands_.end()
                                           : base.empty() || !fs::is_directory(base / band);
      if (might_be_image_band) {
        image = read_raster(image_path);
        names = image_names(image.channels());
        if (static_cast<int>(names.size()) != image.channels())
          throw BadSample(image_path.string(), "image has " + std::to_string(image.channels()) + " bands but image_bands names " +
                                                   std::to_string(names.size()));
        cv::split(image, image_planes);
      }
    }
    auto it = std::find(names.begin(), names.end(), band);
    if (!image.empty() && it != names.end()) {
      plane = image_planes[static_cast<size_t>(it - names.begin())];
    } else if (base.empty()) {
      throw BadSample(image_path.string(), "has no band '" + band + "' (its " + std::to_string(names.size()) +
                                               " bands are named " + join(names) + ")");
    } else {
      const fs::path file = band_file(base, band, image_path);
      std::error_code ec;
      if (!fs::exists(file, ec) && !image.empty() && !fs::is_directory(base / band))
        throw BadSample(image_path.string(), "has no band '" + band + "' (its " + std::to_string(names.size()) +
                                                 " bands are named " + join(names) + ") and there is no folder " +
                                                 (base / band).string());
      plane = read_raster(file);
      if (plane.channels() != 1)
        throw BadSample(file.string(), "band file '" + band + "' has " + std::to_string(plane.channels()) +
                                           " bands; a band file holds one");
      if (have_size && plane.size() != size)
        throw BadSample(file.string(), "band '" + band + "' is " + std::to_string(plane.cols) + "x" +
                                           std::to_string(plane.rows) + " but the sample's other bands are " +
                                           std::to_string(size.width) + "x" + std::to_string(size.height));
    }
    if (!have_size) {
      size = plane.size();
      have_size = true;
    } else if (plane.size() != size) {
      throw BadSample(image_path.string(), "band '" + band + "' is " + std::to_string(plane.cols) + "x" +
                                               std::to_string(plane.rows) + " but the sample's other bands are " +
                                               std::to_string(size.width) + "x" + std::to_string(size.height));
    }
    planes.push_back(plane);
  }
  return merge_bands(planes);
}

}  // namespace xp::raster
