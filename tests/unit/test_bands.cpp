// N-band samples (issue 18): band files and multi-band rasters read with their bit depth, band
// selection and order, colour transforms on the colour bands only, geometric ones on every band,
// per-band normalization statistics of the training split (computed once, recorded, reused); the
// classification datasets reading N-band images through the same library (xp/raster).
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#ifdef XP_HAVE_GDAL
#include <gdal.h>
#endif

#include "data/band_statistics.h"
#include "data/collate.h"
#include "data/data_loader.h"
#include "engine/experiment_runner.h"
#include "engine/normalization_stats.h"
#include "plugin_loader.h"
#include "test_classification_support.h"
#include "xp/errors.h"
#include "xp/plugin.h"
// After the torch headers: glog (pulled in by c10) defines its own CHECK.
#include <doctest/doctest.h>

namespace seg_test {
xp::Params params(const std::string& kind, const std::string& name, const xp::Value::Table& overrides = {});
}

namespace {

namespace fs = std::filesystem;

void load_augment() {
  static bool loaded = [] {
    static xp::PluginLoader loader(xp::PluginRegistry::instance());
    loader.load_library(XP_BINARY_DIR "/plugins/xp_augment.so");
    return true;
  }();
  (void)loaded;
}

xp::Params aug_params(const std::string& name, const xp::Value::Table& overrides = {}) {
  load_augment();
  const auto& entry = xp::PluginRegistry::instance().get("augmentation", name);
  xp::Value::Table values;
  for (const auto& spec : entry.schema.params())
    if (!spec.default_value.is_none()) values[spec.name] = spec.default_value;
  for (const auto& [k, v] : overrides) values[k] = v;
  return xp::Params(name, values, "test.toml:1:1");
}

std::shared_ptr<xp::Augmentation> make_aug(const std::string& name, const xp::Value::Table& overrides = {}) {
  return xp::build_augmentation(aug_params(name, overrides));
}

xp::Value strings(std::vector<std::string> v) { return xp::Value(xp::Value::List(v.begin(), v.end())); }
xp::Value floats(std::vector<double> v) { return xp::Value(xp::Value::List(v.begin(), v.end())); }
xp::Value ints(std::vector<int64_t> v) { return xp::Value(xp::Value::List(v.begin(), v.end())); }

bool same(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && (a.empty() || cv::norm(a, b, cv::NORM_INF) == 0);
}

struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() / ("xp_bands_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

cv::Mat ramp(int h, int w, int depth, int channels, double offset, double step) {
  cv::Mat m(h, w, CV_MAKETYPE(depth, channels));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c) {
        const double v = offset + step * ((y * w + x) * channels + c);
        if (depth == CV_8U) m.ptr<uint8_t>(y)[x * channels + c] = cv::saturate_cast<uint8_t>(v);
        else m.ptr<uint16_t>(y)[x * channels + c] = cv::saturate_cast<uint16_t>(v);
      }
  return m;
}

cv::Mat plane(const cv::Mat& m, int k) {
  std::vector<cv::Mat> planes;
  cv::split(m, planes);
  return planes.at(static_cast<size_t>(k));
}

#ifdef XP_HAVE_GDAL
// An N-band GeoTIFF written with GDAL, bands in order.
void write_tiff(const fs::path& file, const cv::Mat& m) {
  GDALAllRegister();
  GDALDriverH driver = GDALGetDriverByName("GTiff");
  const GDALDataType type = m.depth() == CV_8U ? GDT_Byte : GDT_UInt16;
  GDALDatasetH d = GDALCreate(driver, file.string().c_str(), m.cols, m.rows, m.channels(), type, nullptr);
  REQUIRE(d != nullptr);
  for (int b = 0; b < m.channels(); ++b) {
    cv::Mat p = plane(m, b);
    REQUIRE(GDALRasterIO(GDALGetRasterBand(d, b + 1), GF_Write, 0, 0, m.cols, m.rows, p.data, m.cols, m.rows, type, 0, 0) ==
            CE_None);
  }
  GDALClose(d);
}
#endif

// A split of given images (for the statistics).
class MatSplit : public xp::Split {
 public:
  explicit MatSplit(std::vector<cv::Mat> images, std::vector<bool> bad = {}) : images_(std::move(images)), bad_(std::move(bad)) {}
  size_t size() const override { return images_.size(); }
  xp::Sample load(size_t i) const override {
    if (i < bad_.size() && bad_[i]) throw xp::BadSample("mat:" + std::to_string(i), "unreadable");
    xp::Sample s;
    s.image = images_[i];
    s.source = "mat:" + std::to_string(i);
    return s;
  }

 private:
  std::vector<cv::Mat> images_;
  std::vector<bool> bad_;
};

}  // namespace

TEST_CASE("bands: segmentation_folder picks and orders image bands and band files, values exact") {
  TempDir dir;
  const fs::path root = dir.path;
  for (const char* sub : {"images", "masks", "dem", "ndvi"}) fs::create_directories(root / sub);
  const cv::Mat rgb16 = ramp(6, 5, CV_16U, 3, 1000, 517);  // 16-bit RGB, values past 255
  cv::Mat bgr16;
  cv::cvtColor(rgb16, bgr16, cv::COLOR_RGB2BGR);
  REQUIRE(cv::imwrite((root / "images" / "a.png").string(), bgr16));
  const cv::Mat dem = ramp(6, 5, CV_16U, 1, 40000, 300);
  REQUIRE(cv::imwrite((root / "dem" / "a.tif").string(), dem));
  const cv::Mat ndvi = ramp(6, 5, CV_8U, 1, 3, 7);
  REQUIRE(cv::imwrite((root / "ndvi" / "a.png").string(), ndvi));
  cv::Mat mask = cv::Mat::zeros(6, 5, CV_8U);
  mask.at<uint8_t>(2, 3) = 1;
  REQUIRE(cv::imwrite((root / "masks" / "a.png").string(), mask));
  std::ofstream(root / "train.txt") << "a\n";

  auto data = xp::create<xp::Dataset>(
      seg_test::params("dataset", "segmentation_folder",
                       {{"root", root.string()}, {"bands", strings({"dem", "blue", "red", "ndvi"})}}));
  CHECK(data->info().channels == 4);
  CHECK(data->info().band_names == std::vector<std::string>{"dem", "blue", "red", "ndvi"});
  auto s = data->split("train")->load(0);
  REQUIRE(s.image.channels() == 4);
  CHECK(s.image.depth() == CV_16U);  // 16-bit stays 16-bit; the 8-bit ndvi is widened, not rescaled
  CHECK(same(plane(s.image, 0), dem));
  CHECK(same(plane(s.image, 1), plane(rgb16, 2)));
  CHECK(same(plane(s.image, 2), plane(rgb16, 0)));
  cv::Mat ndvi16;
  ndvi.convertTo(ndvi16, CV_16U);
  CHECK(same(plane(s.image, 3), ndvi16));
  CHECK(same(s.mask, mask));

  // All 8-bit bands stay 8-bit.
  cv::Mat rgb8 = ramp(6, 5, CV_8U, 3, 0, 1);
  fs::create_directories(root / "b" / "images");
  fs::create_directories(root / "b" / "masks");
  fs::create_directories(root / "b" / "ndvi");
  cv::Mat bgr8;
  cv::cvtColor(rgb8, bgr8, cv::COLOR_RGB2BGR);
  cv::imwrite((root / "b" / "images" / "x.png").string(), bgr8);
  cv::imwrite((root / "b" / "ndvi" / "x.png").string(), ndvi);
  cv::imwrite((root / "b" / "masks" / "x.png").string(), mask);
  auto data8 = xp::create<xp::Dataset>(seg_test::params(
      "dataset", "segmentation_folder", {{"root", (root / "b").string()}, {"bands", strings({"green", "ndvi"})}}));
  std::ofstream(root / "b" / "train.txt") << "x.png\n";
  auto s8 = data8->split("train")->load(0);
  CHECK(s8.image.type() == CV_8UC2);
  CHECK(same(plane(s8.image, 0), plane(rgb8, 1)));
  CHECK(same(plane(s8.image, 1), ndvi));
}

TEST_CASE("bands: a missing or misfit band is a bad sample, an unknown band a config error") {
  TempDir dir;
  const fs::path root = dir.path / "train";
  for (const char* sub : {"images", "masks", "dem"}) fs::create_directories(root / sub);
  cv::Mat rgb = ramp(8, 8, CV_8U, 3, 0, 1), mask = cv::Mat::zeros(8, 8, CV_8U);
  for (const char* name : {"a", "b", "c"}) {
    cv::imwrite((root / "images" / (std::string(name) + ".png")).string(), rgb);
    cv::imwrite((root / "masks" / (std::string(name) + ".png")).string(), mask);
  }
  cv::imwrite((root / "dem" / "a.tif").string(), ramp(8, 8, CV_16U, 1, 0, 1));
  cv::imwrite((root / "dem" / "b.tif").string(), ramp(7, 8, CV_16U, 1, 0, 1));  // another size; c has none
  auto data = xp::create<xp::Dataset>(seg_test::params(
      "dataset", "segmentation_folder", {{"root", dir.path.string()}, {"bands", strings({"red", "green", "blue", "dem"})}}));
  auto train = data->split("train");
  CHECK(train->load(0).image.channels() == 4);
  CHECK_THROWS_WITH_AS(train->load(1), doctest::Contains("is 8x7 but the sample's other bands are 8x8"), xp::BadSample);
  CHECK_THROWS_WITH_AS(train->load(2), doctest::Contains("missing file"), xp::BadSample);

  auto typo = xp::create<xp::Dataset>(seg_test::params(
      "dataset", "segmentation_folder", {{"root", dir.path.string()}, {"bands", strings({"red", "dme"})}}));
  CHECK_THROWS_WITH_AS(typo->split("train"), doctest::Contains("did you mean 'dem'"), xp::ConfigError);
  auto twice = [&] {
    xp::create<xp::Dataset>(seg_test::params("dataset", "segmentation_folder",
                                             {{"root", dir.path.string()}, {"bands", strings({"red", "red"})}}));
  };
  CHECK_THROWS_AS(twice(), xp::ConfigError);
}

#ifdef XP_HAVE_GDAL
TEST_CASE("bands: N-band 8- and 16-bit TIFFs through GDAL, named by image_bands") {
  for (int depth : {CV_8U, CV_16U}) {
    CAPTURE(depth);
    TempDir dir;
    const fs::path root = dir.path / "train";
    fs::create_directories(root / "images");
    fs::create_directories(root / "masks");
    const cv::Mat six = ramp(9, 7, depth, 6, 1, depth == CV_8U ? 0.5 : 123.0);
    write_tiff(root / "images" / "t.tif", six);
    cv::imwrite((root / "masks" / "t.png").string(), cv::Mat::zeros(9, 7, CV_8U));
    // Unnamed: b1..b6.
    auto data = xp::create<xp::Dataset>(seg_test::params(
        "dataset", "segmentation_folder", {{"root", dir.path.string()}, {"bands", strings({"b6", "b1", "b3"})}}));
    auto s = data->split("train")->load(0);
    REQUIRE(s.image.channels() == 3);
    CHECK(s.image.depth() == depth);
    CHECK(same(plane(s.image, 0), plane(six, 5)));
    CHECK(same(plane(s.image, 1), plane(six, 0)));
    CHECK(same(plane(s.image, 2), plane(six, 2)));
    // Named bands; every band.
    std::vector<std::string> names = {"coastal", "blue", "green", "red", "nir", "swir"};
    auto named = xp::create<xp::Dataset>(seg_test::params(
        "dataset", "segmentation_folder",
        {{"root", dir.path.string()}, {"bands", strings(names)}, {"image_bands", strings(names)}}));
    CHECK(same(named->split("train")->load(0).image, six));
  }
}
#endif

TEST_CASE("bands: colour transforms leave auxiliary bands alone; geometric ones move every band with the mask") {
  load_augment();
  // Five identical bands, each 255 exactly on the mask (an asymmetric L).
  xp::Sample base;
  base.mask = cv::Mat::zeros(48, 64, CV_8U);
  cv::rectangle(base.mask, cv::Rect(10, 8, 30, 6), cv::Scalar(1), cv::FILLED);
  cv::rectangle(base.mask, cv::Rect(10, 8, 6, 25), cv::Scalar(1), cv::FILLED);
  cv::Mat p = base.mask * 200 + 30;
  cv::merge(std::vector<cv::Mat>{p, p, p, p, p}, base.image);
  xp::Value::Table nearest{{"interpolation", "nearest"}};
  struct Case {
    std::string name;
    xp::Value::Table params;
    bool geometric;
  };
  const std::vector<Case> cases = {
      {"hflip", {{"p", 1.0}}, true},
      {"vflip", {{"p", 1.0}}, true},
      {"rotate90", {{"turns", ints({1, 2, 3})}}, true},
      {"rotate", {{"interpolation", "nearest"}, {"limit", 40.0}}, true},
      {"affine", {{"interpolation", "nearest"}, {"degrees", floats({-20, 20})}, {"translate", floats({0.1, 0.1})}}, true},
      {"elastic", {{"interpolation", "nearest"}, {"alpha", 20.0}, {"border_mode", "constant"}}, true},
      {"random_crop", {{"size", ints({40, 40})}, {"padding", 4}}, true},
      {"color_jitter", {{"brightness", 0.3}, {"contrast", 0.3}, {"saturation", 0.3}, {"hue", 0.1}}, false},
      {"brightness_contrast", {}, false},
      {"hue_saturation_value", {}, false},
      {"gamma", {}, false},
      {"clahe", {}, false},
      {"gaussian_blur", {}, false},
      {"motion_blur", {}, false},
      {"gaussian_noise", {}, false},
      {"iso_noise", {}, false},
      {"image_compression", {}, false},
      {"random_shadow", {{"shadow_roi", floats({0, 0, 1, 1})}}, false},
      {"to_gray", {}, false},
      {"rand_augment", {{"n", 3}}, true},
      {"trivial_augment", {}, true},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto aug = make_aug(c.name, c.params);
    bool colour_changed = false;
    for (uint64_t seed = 0; seed < 12; ++seed) {
      CAPTURE(seed);
      xp::Sample s = base;
      s.image = base.image.clone();
      s.mask = base.mask.clone();
      xp::Rng rng(seed);
      aug->apply(s, rng);
      REQUIRE(s.image.channels() == 5);
      REQUIRE(s.image.size() == s.mask.size());
      // The auxiliary bands saw only the geometry: still copies of each other, 230 exactly on the
      // mask and 30 off it (fill 0 where a warp uncovered the border, mask 0 there too).
      cv::Mat aux3 = plane(s.image, 3), aux4 = plane(s.image, 4);
      CHECK(same(aux3, aux4));
      cv::Mat expected = s.mask * 200 + 30;
      cv::Mat uncovered = (aux3 == 0);
      expected.setTo(0, uncovered);
      CHECK(same(aux3, expected));
      if (!c.geometric) CHECK(same(s.mask, base.mask));
      if (!same(plane(s.image, 0), aux3)) colour_changed = true;
    }
    // (to_gray of colour bands that are already grey changes nothing, rightly.)
    if (!c.geometric && c.name != "to_gray") CHECK_MESSAGE(colour_changed, "the colour bands never changed");
  }

  // Two bands have no colour to change.
  xp::Sample two;
  cv::merge(std::vector<cv::Mat>{p, p}, two.image);
  xp::Rng rng(0);
  CHECK_THROWS_WITH_AS(make_aug("gamma", {{"p", 1.0}})->apply(two, rng), doctest::Contains("at least 3 bands"), xp::ConfigError);
  // Geometric transforms take any band count.
  CHECK_NOTHROW(make_aug("hflip", {{"p", 1.0}})->apply(two, rng));
}

TEST_CASE("bands: normalize handles N bands, 16-bit values and clipping") {
  cv::Mat img(2, 2, CV_16UC(5));
  for (int i = 0; i < 4 * 5; ++i) img.ptr<uint16_t>(0)[i] = static_cast<uint16_t>(1000 * i);
  xp::Sample s;
  s.image = img;
  auto norm = make_aug("normalize", {{"mean", floats({1, 2, 3, 4, 5})},
                                     {"std", floats({2, 2, 2, 2, 4})},
                                     {"max_pixel_value", 1.0},
                                     {"clip_low", floats({0})},
                                     {"clip_high", floats({15000})}});
  xp::Rng rng(0);
  norm->apply(s, rng);
  REQUIRE(s.image.type() == CV_32FC(5));
  for (int i = 0; i < 20; ++i) {
    const int k = i % 5;
    const double v = std::min(1000.0 * i, 15000.0);
    CHECK(s.image.ptr<float>(0)[i] == doctest::Approx((v - (k + 1)) / (k == 4 ? 4 : 2)));
  }
  // stats = "train" is the host's to fill in: built without it is a clear error.
  CHECK_THROWS_WITH_AS(make_aug("normalize", {{"stats", "train"}}), doctest::Contains("resolved by `xp run`"),
                       xp::ConfigError);
}

TEST_CASE("bands: 16-bit samples reach the model as [0, 1] floats without a normalize, not truncated") {
  xp::Sample s;
  s.image = cv::Mat(1, 2, CV_16UC(4), cv::Scalar::all(65535));
  s.image.at<cv::Vec<uint16_t, 4>>(0, 1) = cv::Vec<uint16_t, 4>(256, 300, 0, 65535);
  auto prepared = xp::data::prepare_sample(s);
  REQUIRE(prepared.image.size(0) == 4);
  CHECK(prepared.image[0][0][0].item<float>() == doctest::Approx(1.0));
  CHECK(prepared.image[0][0][1].item<float>() == doctest::Approx(256.0 / 65535.0));
  CHECK(prepared.image[1][0][1].item<float>() == doctest::Approx(300.0 / 65535.0));
}

TEST_CASE("bands: per-band statistics are exact, clip by percentile, skip bad samples, round-trip bit for bit") {
  // Band 0: 0..99 in two samples; band 1: constant 7 (std 0 -> 1); band 2: 16-bit with an outlier.
  std::vector<cv::Mat> images;
  for (int k = 0; k < 2; ++k) {
    cv::Mat m(5, 10, CV_16UC3);
    for (int i = 0; i < 50; ++i) {
      const int v = k * 50 + i;
      m.ptr<uint16_t>(0)[i * 3 + 0] = static_cast<uint16_t>(v);
      m.ptr<uint16_t>(0)[i * 3 + 1] = 7;
      m.ptr<uint16_t>(0)[i * 3 + 2] = static_cast<uint16_t>(v == 99 ? 60000 : 1000 + v);
    }
    images.push_back(m);
  }
  images.push_back(images[0]);
  MatSplit split(images, {false, false, true});
  auto stats = xp::data::compute_band_statistics(split, {}, {"a", "b", "c"});
  CHECK(stats.samples == 2);
  CHECK(stats.skipped == 1);
  CHECK(stats.pixels == 100);
  CHECK(stats.depth == "uint16");
  CHECK(stats.mean[0] == doctest::Approx(49.5));
  CHECK(stats.std[0] == doctest::Approx(std::sqrt((100.0 * 100.0 - 1.0) / 12.0)));
  CHECK(stats.mean[1] == 7.0);
  CHECK(stats.std[1] == 1.0);
  CHECK(stats.mean[2] > 1500);  // the outlier pulls it

  xp::data::BandStatisticsOptions clip;
  clip.clip_percentiles = {0, 98};
  auto clipped = xp::data::compute_band_statistics(split, clip, {"a", "b", "c"});
  CHECK(clipped.clip_high[2] == 1097.0);  // nearest rank 98 of 100: the 98th smallest, 1000 + 97
  CHECK(clipped.clip_low[0] == 0.0);
  CHECK(clipped.mean[2] < 1100);

  TempDir dir;
  xp::data::write_band_statistics(clipped, dir.path / "s.json");
  auto back = xp::data::read_band_statistics(dir.path / "s.json");
  CHECK(back.mean == clipped.mean);  // exact, not approximately
  CHECK(back.std == clipped.std);
  CHECK(back.clip_low == clipped.clip_low);
  CHECK(back.clip_high == clipped.clip_high);
  CHECK(back.bands == clipped.bands);
  CHECK_THROWS_WITH(xp::data::read_band_statistics(dir.path / "none.json"), doctest::Contains("No such file"));
  std::ofstream(dir.path / "bad.json") << "{\"mean\": [1]}";
  CHECK_THROWS_WITH(xp::data::read_band_statistics(dir.path / "bad.json"), doctest::Contains("not a normalization statistics file"));
}

TEST_CASE("bands: stats = train is computed once into the run folder and reused from it") {
  load_augment();
  xp::RunSpec spec;
  spec.data = seg_test::params("dataset", "rare_blobs",
                               {{"train_size", int64_t{12}}, {"val_size", int64_t{4}}, {"test_size", int64_t{4}},
                                {"image_size", int64_t{32}}, {"bands", strings({"red", "green", "blue", "dem"})}});
  spec.augment = {aug_params("hflip"), aug_params("normalize", {{"stats", "train"}, {"clip_percentiles", floats({1, 99})}})};
  spec.eval_augment = {aug_params("normalize", {{"stats", "train"}, {"clip_percentiles", floats({1, 99})}})};
  CHECK(xp::engine::wants_training_statistics(spec));
  TempDir dir;
  auto first = xp::engine::resolve_normalization_stats(spec, dir.path);
  CHECK(first.computed);
  REQUIRE(fs::exists(dir.path / xp::engine::kNormalizationStatsFile));
  REQUIRE(first.stats);
  CHECK(first.stats->bands == std::vector<std::string>{"red", "green", "blue", "dem"});
  CHECK(first.stats->mean[3] > 10000);  // the DEM in 0.1 m units, not squeezed into 8 bits
  const auto& filled = first.spec.augment.back();
  CHECK(filled.get_string("stats").empty());
  CHECK(filled.get_floats("mean") == first.stats->mean);
  CHECK(filled.get_floats("clip_high") == first.stats->clip_high);
  CHECK(first.spec.eval_augment.back().get_floats("std") == first.stats->std);

  // The second use (resume, predict) reads the file: same numbers bit for bit, nothing recomputed,
  // even when the data would now give other statistics.
  xp::RunSpec changed = spec;
  changed.data = changed.data.with("seed", xp::Value(int64_t{5}));
  auto again = xp::engine::resolve_normalization_stats(changed, dir.path);
  CHECK_FALSE(again.computed);
  CHECK(again.spec.augment.back().get_floats("mean") == filled.get_floats("mean"));
  CHECK(again.spec.augment.back().get_floats("std") == filled.get_floats("std"));
  auto fresh = xp::engine::resolve_normalization_stats(changed, {});
  CHECK(fresh.stats->mean != first.stats->mean);

  // Inference reads the recorded file and never computes: a run folder without it is an error.
  auto recorded = xp::engine::with_recorded_statistics(changed, dir.path);
  CHECK(recorded.eval_augment.back().get_floats("mean") == filled.get_floats("mean"));
  TempDir empty;
  CHECK_THROWS_WITH_AS(xp::engine::with_recorded_statistics(spec, empty.path), doctest::Contains("has no normalization_stats.json"),
                       xp::ConfigError);
  CHECK_FALSE(fs::exists(empty.path / xp::engine::kNormalizationStatsFile));

  // Other bands than recorded: refused.
  xp::RunSpec other = spec;
  other.data = other.data.with("bands", strings({"red", "green", "blue", "noise"}));
  CHECK_THROWS_WITH_AS(xp::engine::resolve_normalization_stats(other, dir.path), doctest::Contains("holds statistics of the bands"),
                       xp::ConfigError);
  // The filled-in normalize brings the dataset's 16-bit training samples to about zero mean.
  auto data = xp::create<xp::Dataset>(spec.data);
  auto sample = data->split("train")->load(0);
  xp::Rng rng(0);
  xp::build_augmentation(filled)->apply(sample, rng);
  CHECK(sample.image.type() == CV_32FC(4));
  cv::Scalar mean = cv::mean(sample.image);
  for (int k = 0; k < 4; ++k) CHECK(std::abs(mean[k]) < 3.0);
}

TEST_CASE("bands: rare_blobs auxiliary bands: RGB unchanged, objects are depressions in the DEM") {
  auto rgb = xp::create<xp::Dataset>(seg_test::params("dataset", "rare_blobs"));
  auto all = xp::create<xp::Dataset>(
      seg_test::params("dataset", "rare_blobs", {{"bands", strings({"red", "green", "blue", "dem", "noise"})}}));
  CHECK(all->info().channels == 5);
  auto a = rgb->split("train"), b = all->split("train");
  double inside = 0, ring = 0;
  int objects = 0;
  for (size_t i = 0; i < 60; ++i) {
    auto sa = a->load(i), sb = b->load(i);
    REQUIRE(sb.image.type() == CV_16UC(5));
    cv::Mat rgb16;
    sa.image.convertTo(rgb16, CV_16U);
    std::vector<cv::Mat> planes;
    cv::split(sb.image, planes);
    cv::Mat first3;
    cv::merge(std::vector<cv::Mat>(planes.begin(), planes.begin() + 3), first3);
    CHECK(same(first3, rgb16));
    CHECK(same(sa.mask, sb.mask));
    if (cv::countNonZero(sb.mask) == 0) continue;
    cv::Mat grown;
    cv::dilate(sb.mask, grown, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(9, 9)));
    cv::Mat around = grown & (sb.mask == 0);
    cv::Mat dem;
    planes[3].convertTo(dem, CV_64F);
    inside += cv::mean(dem, sb.mask)[0];
    ring += cv::mean(dem, around)[0];
    ++objects;
  }
  REQUIRE(objects > 5);
  CHECK((ring - inside) / objects > 10.0);  // 0.1 m units: objects lie > 1 m below their surroundings
  CHECK_THROWS_WITH_AS(
      xp::create<xp::Dataset>(seg_test::params("dataset", "rare_blobs", {{"bands", strings({"red", "dme"})}})),
      doctest::Contains("did you mean 'dem'"), xp::ConfigError);
}

TEST_CASE("bands: in_channels = 0 follows the dataset's band count") {
  auto data = xp::create<xp::Dataset>(
      seg_test::params("dataset", "rare_blobs", {{"bands", strings({"red", "green", "blue", "dem"})}}));
  auto params = xp::engine::fill_from_dataset(seg_test::params("model", "unet"), data->info());
  CHECK(params.get_int("in_channels") == 4);
  auto model = xp::create<xp::Model>(params);
  auto out = model->forward(torch::zeros({2, 4, 32, 32}));
  CHECK(out.logits.sizes() == torch::IntArrayRef({2, 1, 32, 32}));
}

TEST_CASE("bands: image_folder and csv_images read 16-bit images by band name, values exact") {
  TempDir dir;
  const fs::path root = dir.path / "data";
  for (const char* cls : {"a", "b"}) fs::create_directories(root / "train" / cls);
  // A 16-bit grey PNG: OpenCV reads it without GDAL.
  const cv::Mat grey = ramp(6, 5, CV_16U, 1, 300, 997);
  cv::imwrite((root / "train" / "a" / "g.png").string(), grey);
  cv::imwrite((root / "train" / "b" / "g.png").string(), grey);
  auto folder = xp_test::make<xp::Dataset>("image_folder", {{"root", root.string()}, {"bands", strings({"gray"})},
                                                            {"val_fraction", 0.0}, {"test_fraction", 0.0}});
  CHECK(folder->info().channels == 1);
  CHECK(folder->info().band_names == std::vector<std::string>{"gray"});
  auto s = folder->split("train")->load(0);
  CHECK(same(s.image, grey));  // 16-bit kept, not converted to 8
  // Without bands nothing changes: 8-bit RGB, no band names.
  auto plain = xp_test::make<xp::Dataset>("image_folder", {{"root", root.string()}, {"val_fraction", 0.0},
                                                           {"test_fraction", 0.0}});
  CHECK(plain->info().channels == 3);
  CHECK(plain->info().band_names.empty());
  CHECK(plain->split("train")->load(0).image.type() == CV_8UC3);

  // Unknown band names are config errors with a suggestion; a band the file lacks is a bad sample.
  CHECK_THROWS_WITH_AS(xp_test::make<xp::Dataset>("image_folder", {{"root", root.string()}, {"bands", strings({"nri"})},
                                                                   {"image_bands", strings({"nir"})}}),
                       doctest::Contains("band 'nri' is not a band of the image files"), xp::ConfigError);
  CHECK_THROWS_WITH(xp_test::make<xp::Dataset>("image_folder", {{"root", root.string()}, {"bands", strings({"nri"})},
                                                                {"image_bands", strings({"nir"})}}),
                    doctest::Contains("nir"));
  CHECK_THROWS_WITH_AS(xp_test::make<xp::Dataset>("image_folder", {{"root", root.string()}, {"bands", strings({"gray", "gray"})}}),
                       doctest::Contains("listed twice"), xp::ConfigError);
  auto missing = xp_test::make<xp::Dataset>("image_folder", {{"root", root.string()}, {"bands", strings({"b2"})},
                                                             {"val_fraction", 0.0}, {"test_fraction", 0.0}});
  CHECK_THROWS_WITH_AS(missing->split("train")->load(0), doctest::Contains("has no band 'b2'"), xp::BadSample);

#ifdef XP_HAVE_GDAL
  // A 5-band 16-bit TIFF through csv_images: picked and ordered by name, resized on request.
  const cv::Mat five = ramp(8, 6, CV_16U, 5, 1000, 101);
  write_tiff(root / "five.tif", five);
  std::ofstream(root / "train.csv") << "path,label\nfive.tif,x\nfive.tif,y\n";
  const std::vector<std::string> names = {"blue", "green", "red", "nir", "swir"};
  auto csv = xp_test::make<xp::Dataset>("csv_images", {{"train_csv", (root / "train.csv").string()},
                                                       {"bands", strings({"nir", "red", "green", "blue"})},
                                                       {"image_bands", strings(names)}});
  CHECK(csv->info().channels == 4);
  CHECK(csv->info().band_names == std::vector<std::string>{"nir", "red", "green", "blue"});
  auto t = csv->split("train")->load(0);
  REQUIRE(t.image.channels() == 4);
  CHECK(t.image.depth() == CV_16U);
  for (int k = 0; k < 4; ++k) CHECK(same(plane(t.image, k), plane(five, 3 - k)));
  auto resized = xp_test::make<xp::Dataset>("csv_images", {{"train_csv", (root / "train.csv").string()},
                                                           {"bands", strings({"swir"})},
                                                           {"image_bands", strings(names)},
                                                           {"resize", ints({4, 3})}});
  auto r = resized->split("train")->load(1);
  CHECK(r.image.size() == cv::Size(3, 4));
  CHECK(r.image.type() == CV_16UC1);
#endif
}

// Issue 18's fusion study: RGB alone learned, and no variant with an extra band did, the pure-noise
// control included. Not the 16-bit path: with a 16-bit band added, the RGB channels and the mask
// reach the model bit for bit as without it (same normalization, same augmentation draws).
TEST_CASE("bands: an extra 16-bit band leaves the RGB channels of a normalized training sample bit for bit") {
  load_augment();
  auto setup = [&](std::vector<std::string> bands) {
    xp::RunSpec spec;
    spec.data = seg_test::params("dataset", "rare_blobs",
                                 {{"train_size", int64_t{40}}, {"val_size", int64_t{4}}, {"test_size", int64_t{4}},
                                  {"image_size", int64_t{32}}, {"signal", 0.5}, {"bands", strings(bands)}});
    const auto normalize = aug_params("normalize", {{"stats", "train"}, {"clip_percentiles", floats({0.5, 99.5})}});
    spec.augment = {aug_params("hflip"), aug_params("vflip"), aug_params("rotate90"), normalize};
    spec.eval_augment = {normalize};
    return xp::engine::build_data_setup(spec);
  };
  auto rgb = setup({"red", "green", "blue"});
  for (const auto& extra : {"noise", "dem"}) {
    CAPTURE(extra);
    auto more = setup({"red", "green", "blue", extra});
    for (int64_t i = 0; i < 40; ++i) {
      auto a = xp::data::prepare_sample(xp::data::load_sample(*rgb.train, rgb.augment, 42, 1, i, i, 0));
      auto b = xp::data::prepare_sample(xp::data::load_sample(*more.train, more.augment, 42, 1, i, i, 0));
      REQUIRE(b.image.size(0) == 4);
      CHECK(torch::equal(a.image, b.image.slice(0, 0, 3)));
      CHECK(torch::equal(a.mask, b.mask));
      CHECK(b.image[3].abs().max().item<float>() < 10.0f);  // the extra band normalized too, not raw 16-bit
    }
  }
}

namespace {

// Mean over the tiles with objects of (mean around the objects - mean inside them), band `band`.
double depression_depth(xp::Split& split, size_t tiles, int band) {
  double sum = 0;
  int objects = 0;
  for (size_t i = 0; i < tiles; ++i) {
    auto s = split.load(i);
    if (cv::countNonZero(s.mask) == 0) continue;
    std::vector<cv::Mat> planes;
    cv::split(s.image, planes);
    cv::Mat grown;
    cv::dilate(s.mask, grown, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(9, 9)));
    sum += cv::mean(planes[band], grown & (s.mask == 0))[0] - cv::mean(planes[band], s.mask)[0];
    ++objects;
  }
  REQUIRE(objects > 10);
  return sum / objects;
}

}  // namespace

// The absolute DEM carries the tiles' kilometre-scale elevations: normalized with the split's
// statistics, a 3 m depression is under 1 % of a standard deviation. The relative elevation (minus
// the local mean) keeps the same depressions at a scale the model can see.
TEST_CASE("bands: rare_blobs dem_elevation = relative: local relief, depressions visible after normalization") {
  auto make = [](const std::string& elevation, xp::Value::Table more = {}) {
    xp::Value::Table p{{"train_size", int64_t{120}}, {"dem_elevation", elevation},
                       {"bands", strings({"red", "green", "blue", "dem"})}};
    for (auto& [k, v] : more) p[k] = v;
    return xp::create<xp::Dataset>(seg_test::params("dataset", "rare_blobs", p));
  };
  auto absolute = make("absolute"), relative = make("relative");
  auto a = absolute->split("train"), r = relative->split("train");
  xp::data::BandStatisticsOptions clip;
  clip.clip_percentiles = {0.5, 99.5};
  const auto sa = xp::data::compute_band_statistics(*a, clip), sr = xp::data::compute_band_statistics(*r, clip);
  CHECK(sa.mean[3] > 15000);                     // 0.1 m units: about 2000 m
  CHECK(std::abs(sr.mean[3] - 32768) < 5);       // relative: 0 m is 32768
  CHECK(sa.mean[0] == sr.mean[0]);               // RGB untouched
  const double da = depression_depth(*a, 120, 3), dr = depression_depth(*r, 120, 3);
  CHECK(da > 10.0);  // the same > 1 m depressions in both
  CHECK(dr > 10.0);
  CHECK(da / sa.std[3] < 0.02);   // measured 0.007 (320 tiles)
  CHECK(dr / sr.std[3] > 0.25);   // measured 0.49

  // Relative = absolute - its 15 x 15 local mean (mirrored edges) + 32768, up to the absolute band's
  // rounding to whole 0.1 m; RGB and masks are those of the absolute tiles.
  for (size_t i = 0; i < 8; ++i) {
    auto ta = a->load(i), tr = r->load(i);
    CHECK(same(ta.mask, tr.mask));
    std::vector<cv::Mat> pa, pr;
    cv::split(ta.image, pa);
    cv::split(tr.image, pr);
    for (int k = 0; k < 3; ++k) CHECK(same(pa[k], pr[k]));
    cv::Mat z, local, expect, got;
    pa[3].convertTo(z, CV_64F);
    cv::blur(z, local, cv::Size(15, 15), cv::Point(-1, -1), cv::BORDER_REFLECT);
    expect = z - local + 32768.0;
    pr[3].convertTo(got, CV_64F);
    double worst = 0;
    cv::minMaxLoc(cv::abs(got - expect), nullptr, &worst);
    CHECK(worst <= 1.5);
  }
  // An even window is made odd (centred); the window never exceeds the tile.
  auto even = make("relative", {{"dem_window", int64_t{14}}}), wide = make("relative", {{"dem_window", int64_t{1001}}});
  CHECK(same(even->split("train")->load(3).image, r->load(3).image));
  CHECK(wide->split("train")->load(3).image.type() == CV_16UC4);
}
