#pragma once
// A sample made of named bands: the bands of its image file (an RGB PNG, a 16-bit N-band TIFF) and
// further aligned single-band files in folders beside `images/` named after the band
// (`dem/<stem>.tif`, `ndvi/<stem>.png`). `bands = [...]` picks and orders them, so "RGB + one
// auxiliary band" is just another list. Shared by the datasets of the segmentation plugin
// (segmentation_folder, rare_blobs) and the classification plugin (image_folder, csv_images: the
// image file's bands only).

#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace xp::raster {

class BandSet {
 public:
  // `bands`: the names to load, in order. `image_bands`: the names of the image file's own bands in
  // file order; empty = by the file's band count: 1 "gray", 3 "red green blue", 4 "red green blue
  // alpha", otherwise "b1".."bN". Any other name is a band file <base>/<name>/<stem>.<ext>.
  BandSet(std::vector<std::string> bands, std::vector<std::string> image_bands);

  const std::vector<std::string>& names() const { return bands_; }

  // Band names that are neither image bands nor a folder under `base` (for a config error).
  std::vector<std::string> unknown_bands(const std::filesystem::path& base) const;
  // Band names that cannot be bands of the image file: not in image_bands, or (without image_bands)
  // none of gray, red, green, blue, alpha, b1..bN. For datasets without band files.
  std::vector<std::string> non_image_bands() const;

  // H x W x bands().size(), bands in the requested order. Depth: CV_8U when every band is 8-bit,
  // CV_16U when every band is 8- or 16-bit unsigned (8-bit values kept as they are, not rescaled),
  // CV_32F otherwise, so no band loses precision. Throws xp::BadSample for a missing or undecodable
  // band file, a band the image does not have, or a band of another size than the image.
  cv::Mat load(const std::filesystem::path& image, const std::filesystem::path& base) const;

  // The band file of `band` for `image` (the first existing extension; a .tif path when none does).
  static std::filesystem::path band_file(const std::filesystem::path& base, const std::string& band,
                                         const std::filesystem::path& image);

 private:
  std::vector<std::string> image_names(int channels) const;
  std::vector<std::string> bands_, image_bands_;
};

// The common depth of `planes` as BandSet::load describes it, and the planes merged at that depth.
cv::Mat merge_bands(const std::vector<cv::Mat>& planes);

}  // namespace xp::raster
