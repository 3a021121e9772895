// `segmentation_folder`: image / mask pairs on disk.
//
//   root/images/<name>.png   root/masks/<name><mask_suffix>.png   root/{train,val,test}.txt
// or
//   root/train/images/...    root/train/masks/...                 (one folder per split)
//
// List files hold one image file name (or stem) per line; blank lines and # comments are skipped.
//
// With `bands = [...]` a sample is N named bands: those of the image file (8/16-bit, N-band TIFFs)
// and aligned single-band files in folders beside images/ (root/dem/<stem>.tif), see xp/raster/band_set.h.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "xp/base/suggest.h"
#include "xp/plugin.h"
#include "xp/raster/band_set.h"

namespace xp::seg {
namespace {

namespace fs = std::filesystem;
using raster::BandSet;

const std::vector<std::string> kImageExtensions = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"};

bool is_image(const fs::path& p) {
  auto ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return std::find(kImageExtensions.begin(), kImageExtensions.end(), ext) != kImageExtensions.end();
}

struct MaskOptions {
  bool values_255 = false;  // masks are 0/255 (else 0/1)
  int ignore_value = 255;   // -1 = none
  std::string suffix;
};

struct Pair {
  fs::path image, mask;
  fs::path base;  // the folder holding images/, masks/ and the band folders
};

class FolderSplit : public Split {
 public:
  FolderSplit(std::vector<Pair> pairs, MaskOptions mask, int channels, std::shared_ptr<const BandSet> bands)
      : pairs_(std::move(pairs)), mask_(std::move(mask)), channels_(channels), bands_(std::move(bands)),
        labels_(pairs_.size(), kUnknown) {}

  size_t size() const override { return pairs_.size(); }

  Sample load(size_t index) const override {
    const Pair& pair = pairs_.at(index);
    Sample s;
    s.source = pair.image.string();
    s.index = static_cast<int64_t>(index);
    cv::Mat image;
    if (bands_) {
      image = bands_->load(pair.image, pair.base);
    } else {
      image = cv::imread(pair.image.string(), channels_ == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
      if (image.empty()) throw BadSample(pair.image.string(), fs::exists(pair.image) ? "cannot decode image" : "missing image");
      if (channels_ == 3) cv::cvtColor(image, image, cv::COLOR_BGR2RGB);
    }
    s.mask = read_mask(pair.mask);
    if (s.mask.size() != image.size())
      throw BadSample(pair.mask.string(), "mask is " + std::to_string(s.mask.cols) + "x" + std::to_string(s.mask.rows) +
                                              " but the image is " + std::to_string(image.cols) + "x" +
                                              std::to_string(image.rows));
    s.image = image;
    s.label = has_positive(s.mask) ? 1 : 0;
    remember(index, s.label);
    return s;
  }

  int64_t label(size_t index) const override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (labels_.at(index) != kUnknown) return labels_[index];
    }
    int64_t l;
    try {
      l = has_positive(read_mask(pairs_[index].mask)) ? 1 : 0;
    } catch (const BadSample&) {
      l = -1;  // the loader will skip it anyway
    }
    remember(index, l);
    return l;
  }

 private:
  static constexpr int8_t kUnknown = -2;

  // Mask values -> 0 / 1 / 255 (ignore), the collator's convention.
  cv::Mat read_mask(const fs::path& path) const {
    cv::Mat raw = cv::imread(path.string(), cv::IMREAD_UNCHANGED);
    if (raw.empty()) throw BadSample(path.string(), fs::exists(path) ? "cannot decode mask" : "missing mask");
    if (raw.channels() != 1) cv::cvtColor(raw, raw, raw.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
    if (raw.depth() != CV_8U) raw.convertTo(raw, CV_8U);
    cv::Mat out(raw.size(), CV_8U);
    for (int y = 0; y < raw.rows; ++y) {
      const uchar* in = raw.ptr<uchar>(y);
      uchar* o = out.ptr<uchar>(y);
      for (int x = 0; x < raw.cols; ++x) {
        int v = in[x];
        if (v == mask_.ignore_value) o[x] = 255;
        else if (v == 0) o[x] = 0;
        else if (mask_.values_255) o[x] = v >= 128 ? 1 : 0;
        else if (v == 1) o[x] = 1;
        else
          throw BadSample(path.string(), "mask value " + std::to_string(v) + " at (" + std::to_string(x) + "," +
                                             std::to_string(y) + ") is not 0, 1 or ignore_value " +
                                             std::to_string(mask_.ignore_value) + " (0/255 masks: mask_values = \"0_255\")");
      }
    }
    return out;
  }

  static bool has_positive(const cv::Mat& mask) { return cv::countNonZero(mask == 1) > 0; }

  void remember(size_t index, int64_t label) const {
    std::lock_guard<std::mutex> lock(mutex_);
    labels_[index] = static_cast<int8_t>(label);
  }

  std::vector<Pair> pairs_;
  MaskOptions mask_;
  int channels_;
  std::shared_ptr<const BandSet> bands_;  // null: the image file alone, as `channels` says
  mutable std::mutex mutex_;
  mutable std::vector<int8_t> labels_;  // cached Split::label(), kUnknown until first asked
};

class SegmentationFolder : public Dataset {
 public:
  static Schema schema() {
    return Schema("Image/mask pairs: root/images + root/masks with root/<split>.txt lists, "
                  "or root/<split>/images + root/<split>/masks")
        .tasks({"segmentation"})
        .add_required("root", ParamType::String, "dataset folder")
        .add_string("mask_values", "0_1", "how positives are stored: 0_1 (0/1) or 0_255 (0/255, >= 128 positive)")
        .choices({"0_1", "0_255"})
        .add_int("ignore_value", 255, "mask value of pixels to ignore (-1 = none)").range(-1, 255)
        .add_string("mask_suffix", "", "mask file = <image stem><mask_suffix>.png, e.g. \"_mask\"")
        .add_int("channels", 3, "decode images as 1 (grey) or 3 (RGB) channels (without `bands`)")
        .choices({Value(1), Value(3)})
        .add_strings("bands", {},
                     "bands of a sample, in order: the image file's own (image_bands) and band files "
                     "<root>/<band>/<stem>.tif|png; 8/16-bit kept; empty = the image as `channels` says")
        .add_strings("image_bands", {},
                     "names of the image file's bands in file order; empty = gray / red,green,blue / "
                     "red,green,blue,alpha by band count, b1..bN otherwise");
  }

  explicit SegmentationFolder(const Params& p) : root_(p.get_string("root")), where_(p.where()) {
    mask_.values_255 = p.get_string("mask_values") == "0_255";
    mask_.ignore_value = static_cast<int>(p.get_int("ignore_value"));
    mask_.suffix = p.get_string("mask_suffix");
    channels_ = static_cast<int>(p.get_int("channels"));
    if (mask_.values_255 && mask_.ignore_value == 255)
      throw ConfigError("segmentation_folder: with mask_values = \"0_255\" the value 255 means positive; "
                        "set ignore_value to another value or -1",
                        where_);
    if (!fs::is_directory(root_)) throw ConfigError("segmentation_folder: root '" + root_.string() + "' is not a folder", where_);
    auto bands = p.get_strings("bands");
    if (!bands.empty()) {
      for (size_t i = 0; i < bands.size(); ++i)
        if (std::find(bands.begin(), bands.begin() + static_cast<std::ptrdiff_t>(i), bands[i]) != bands.begin() + static_cast<std::ptrdiff_t>(i))
          throw ConfigError("segmentation_folder: band '" + bands[i] + "' is listed twice in bands", where_);
      bands_ = std::make_shared<BandSet>(bands, p.get_strings("image_bands"));
      band_names_ = bands;
    }
  }

  DatasetInfo info() const override {
    DatasetInfo info;
    info.task = Task::Segmentation;
    info.num_classes = 1;
    info.channels = bands_ ? static_cast<int64_t>(band_names_.size()) : channels_;
    info.band_names = band_names_;
    if (!bands_ && channels_ == 3) info.band_names = {"red", "green", "blue"};
    if (!bands_ && channels_ == 1) info.band_names = {"gray"};
    return info;
  }

  std::shared_ptr<Split> split(const std::string& name) override {
    std::vector<Pair> pairs;
    const fs::path base = fs::is_directory(root_ / name / "images") ? root_ / name : root_;
    if (bands_) check_bands(base);
    if (fs::is_directory(root_ / name / "images")) {
      for (const auto& entry : fs::directory_iterator(root_ / name / "images"))
        if (entry.is_regular_file() && is_image(entry.path())) pairs.push_back(pair_for(root_ / name, entry.path()));
      std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) { return a.image < b.image; });
    } else if (fs::exists(root_ / (name + ".txt"))) {
      pairs = read_list(root_ / (name + ".txt"));
    } else {
      throw ConfigError("segmentation_folder: no split '" + name + "' in " + root_.string() + " (expected " +
                            (root_ / (name + ".txt")).string() + " or " + (root_ / name / "images").string() + ")",
                        where_);
    }
    return std::make_shared<FolderSplit>(std::move(pairs), mask_, channels_, bands_);
  }

 private:
  Pair pair_for(const fs::path& base, const fs::path& image) const {
    return {image, base / "masks" / (image.stem().string() + mask_.suffix + ".png"), base};
  }

  // A band that is no image band and has no folder is a typo, not a bad sample.
  void check_bands(const fs::path& base) const {
    auto unknown = bands_->unknown_bands(base);
    if (unknown.empty()) return;
    std::vector<std::string> folders;
    for (const auto& entry : fs::directory_iterator(base))
      if (entry.is_directory() && entry.path().filename() != "images" && entry.path().filename() != "masks")
        folders.push_back(entry.path().filename().string());
    throw ConfigError("segmentation_folder: band '" + unknown.front() + "' is neither a band of the image files nor a folder " +
                          (base / unknown.front()).string() + did_you_mean(unknown.front(), folders),
                      where_);
  }

  std::vector<Pair> read_list(const fs::path& list) const {
    std::ifstream in(list);
    std::vector<Pair> pairs;
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
      auto begin = line.find_first_not_of(" \t\r");
      if (begin == std::string::npos || line[begin] == '#') continue;
      line = line.substr(begin, line.find_last_not_of(" \t\r") - begin + 1);
      fs::path image = root_ / "images" / line;
      // A stem without extension: take the first image file with that stem. A missing one stays
      // in the list and becomes a BadSample, so one lost file does not end a run.
      if (!is_image(image))
        for (const auto& ext : kImageExtensions)
          if (fs::exists(root_ / "images" / (line + ext))) {
            image = root_ / "images" / (line + ext);
            break;
          }
      pairs.push_back(pair_for(root_, image));
    }
    return pairs;
  }

  fs::path root_;
  std::string where_;
  MaskOptions mask_;
  int channels_ = 3;
  std::shared_ptr<const BandSet> bands_;
  std::vector<std::string> band_names_;
};

}  // namespace
}  // namespace xp::seg

XP_REGISTER_DATASET("segmentation_folder", xp::seg::SegmentationFolder);
