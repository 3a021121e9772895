// Datasets: Fashion-MNIST from the installed IDX files, and the file-based datasets on a temporary
// folder of good PNG/JPEG files plus the broken files researchers actually meet (empty, truncated,
// a text file named .jpg), which must surface as xp::BadSample.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <unistd.h>

#include <opencv2/imgcodecs.hpp>

#include "test_classification_support.h"

using xp_test::make;
namespace fs = std::filesystem;

namespace {

const char* kFashionRoot = "/usr/share/datasets/fashion-mnist";

// A fresh temporary folder, removed again at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("xp_test_cls_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

void write_image(const fs::path& file, int value, int size = 12) {
  fs::create_directories(file.parent_path());
  cv::Mat m(size, size + 4, CV_8UC3, cv::Scalar(value, value / 2, 255 - value));
  REQUIRE(cv::imwrite(file.string(), m));
}

void truncate_file(const fs::path& file) {
  auto size = fs::file_size(file);
  fs::resize_file(file, size / 2);
}

// Loads every sample; returns the sources that threw BadSample.
std::set<std::string> bad_samples(const xp::Split& split) {
  std::set<std::string> bad;
  for (size_t i = 0; i < split.size(); ++i) {
    try {
      xp::Sample s = split.load(i);
      CHECK(!s.image.empty());
      CHECK(s.label == split.label(i));
      CHECK(s.index == static_cast<int64_t>(i));
    } catch (const xp::BadSample& e) {
      bad.insert(fs::path(e.source()).filename().string());
    }
  }
  return bad;
}

}  // namespace

TEST_CASE("fashion_mnist: the installed files, stratified val carving, limit") {
  if (!fs::is_directory(kFashionRoot)) {
    MESSAGE("dataset-fashion-mnist is not installed; skipping");
    return;
  }
  auto ds = make<xp::Dataset>("fashion_mnist");
  CHECK(ds->info().num_classes == 10);
  CHECK(ds->info().channels == 1);
  CHECK(ds->info().class_names.at(9) == "Ankle boot");
  auto train = ds->split("train"), val = ds->split("val"), test = ds->split("test");
  CHECK(train->size() == 54000);
  CHECK(val->size() == 6000);
  CHECK(test->size() == 10000);
  std::vector<int> per_class(10, 0);
  for (size_t i = 0; i < val->size(); ++i) per_class.at(val->label(i))++;
  for (int c : per_class) CHECK(c == 600);
  xp::Sample s = test->load(0);
  CHECK(s.image.rows == 28);
  CHECK(s.image.cols == 28);
  CHECK(s.image.type() == CV_8UC1);
  CHECK(s.label == 9);  // the first t10k image is an ankle boot
  CHECK(cv::countNonZero(s.image) > 100);
  CHECK_THROWS_WITH_AS(ds->split("validation"), doctest::Contains("has no split 'validation'"), xp::ConfigError);

  // The carving depends on split_seed only; limit keeps a seeded subset.
  auto again = make<xp::Dataset>("fashion_mnist", {{"limit", 500}});
  auto small_val = again->split("val");
  CHECK(small_val->size() == 500);
  auto other = make<xp::Dataset>("fashion_mnist", {{"split_seed", 1}, {"limit", 500}});
  auto other_val = other->split("val");
  int same = 0;
  for (size_t i = 0; i < 500; ++i) same += other_val->load(i).source == small_val->load(i).source;
  CHECK(same < 50);
  CHECK_THROWS_WITH_AS(make<xp::Dataset>("fashion_mnist", {{"root", "/nonexistent"}}), doctest::Contains("not a folder"),
                       xp::ConfigError);
}

TEST_CASE("image_folder: root/<class>/* with carved splits and broken files") {
  TempDir tmp;
  for (int i = 0; i < 10; ++i) write_image(tmp.path / "healthy" / ("h" + std::to_string(i) + ".png"), 20 * i);
  for (int i = 0; i < 5; ++i) write_image(tmp.path / "blight" / ("b" + std::to_string(i) + ".jpg"), 30 * i);
  std::ofstream(tmp.path / "blight" / "zero.png").close();
  write_image(tmp.path / "blight" / "cut.png", 7, 64);
  truncate_file(tmp.path / "blight" / "cut.png");
  write_image(tmp.path / "healthy" / "cut.jpg", 9, 64);
  truncate_file(tmp.path / "healthy" / "cut.jpg");
  std::ofstream(tmp.path / "healthy" / "notes.jpg") << "this is not an image\n";
  std::ofstream(tmp.path / "healthy" / "readme.txt") << "ignored: not an image extension\n";

  auto ds = make<xp::Dataset>("image_folder", {{"root", tmp.path.string()}, {"val_fraction", 0.0}, {"test_fraction", 0.0}});
  CHECK(ds->info().class_names == std::vector<std::string>{"blight", "healthy"});
  CHECK(ds->info().num_classes == 2);
  auto train = ds->split("train");
  CHECK(train->size() == 19);  // 15 good + 4 broken, readme.txt skipped
  CHECK(bad_samples(*train) == std::set<std::string>{"zero.png", "cut.png", "cut.jpg", "notes.jpg"});
  xp::Sample first = train->load(0);  // blight/b0.jpg: sorted class, then sorted file
  CHECK(first.label == 0);
  CHECK(first.image.channels() == 3);
  CHECK(first.image.cols == 16);
  CHECK_THROWS_WITH_AS(ds->split("val"), doctest::Contains("has no images"), xp::ConfigError);

  // Grey decoding and resize on load.
  auto grey = make<xp::Dataset>("image_folder", {{"root", tmp.path.string()}, {"channels", 1},
                                                 {"resize", xp_test::ints({8, 8})}, {"val_fraction", 0.0},
                                                 {"test_fraction", 0.0}});
  xp::Sample g = grey->split("train")->load(0);
  CHECK(g.image.channels() == 1);
  CHECK(g.image.rows == 8);
  CHECK(g.image.cols == 8);

  // Carving: 20% of each class to val, stratified, deterministic for a split_seed.
  auto carved = make<xp::Dataset>("image_folder", {{"root", tmp.path.string()}, {"val_fraction", 0.2}, {"test_fraction", 0.0}});
  auto val = carved->split("val");
  CHECK(val->size() == 3);  // per class: blight round(0.2 * 7) = 1, healthy round(0.2 * 12) = 2
  CHECK(carved->split("train")->size() + val->size() == 19);
}

TEST_CASE("image_folder: train/valid/test folders; unknown class in val") {
  TempDir tmp;
  for (const char* split : {"train", "valid", "test"})
    for (const char* cls : {"a", "b", "c"})
      for (int i = 0; i < 2; ++i) write_image(tmp.path / split / cls / (std::string(cls) + std::to_string(i) + ".png"), 10 * i);
  auto ds = make<xp::Dataset>("image_folder", {{"root", tmp.path.string()}});
  CHECK(ds->split("train")->size() == 6);
  CHECK(ds->split("val")->size() == 6);
  CHECK(ds->split("test")->size() == 6);
  CHECK(ds->split("val")->label(5) == 2);
  CHECK(bad_samples(*ds->split("test")).empty());
  write_image(tmp.path / "valid" / "d" / "d0.png", 1);
  CHECK_THROWS_WITH_AS(make<xp::Dataset>("image_folder", {{"root", tmp.path.string()}}),
                       doctest::Contains("no counterpart among the training classes"), xp::ConfigError);
}

TEST_CASE("csv_images: names and indices as labels, relative paths, errors with file:line") {
  TempDir tmp;
  write_image(tmp.path / "img" / "x.png", 10);
  write_image(tmp.path / "img" / "y.png", 20);
  write_image(tmp.path / "img" / "z.png", 30);
  std::ofstream(tmp.path / "img" / "empty.png").close();
  std::ofstream(tmp.path / "train.csv") << "id,path,label\n1,img/x.png,rust\n2,\"img/y.png\",healthy\n3,img/empty.png,rust\n";
  std::ofstream(tmp.path / "val.csv") << "id,path,label\r\n1,img/z.png,healthy\r\n";
  auto ds = make<xp::Dataset>("csv_images", {{"train_csv", (tmp.path / "train.csv").string()},
                                             {"val_csv", (tmp.path / "val.csv").string()}});
  CHECK(ds->info().class_names == std::vector<std::string>{"healthy", "rust"});
  auto train = ds->split("train");
  REQUIRE(train->size() == 3);
  CHECK(train->label(0) == 1);
  CHECK(train->label(1) == 0);
  CHECK(bad_samples(*train) == std::set<std::string>{"empty.png"});
  CHECK(ds->split("val")->load(0).label == 0);
  CHECK_THROWS_WITH_AS(ds->split("test"), doctest::Contains("set test_csv"), xp::ConfigError);

  // Indices, no header, absolute root.
  std::ofstream(tmp.path / "idx.csv") << "x.png,2\ny.png,0\n";
  auto idx = make<xp::Dataset>("csv_images", {{"train_csv", (tmp.path / "idx.csv").string()}, {"header", false},
                                              {"root", (tmp.path / "img").string()}});
  CHECK(idx->info().num_classes == 3);
  CHECK(idx->split("train")->label(0) == 2);
  CHECK(bad_samples(*idx->split("train")).empty());

  // A val label that the training CSV never used: file and line in the message.
  std::ofstream(tmp.path / "bad_val.csv") << "path,label\nimg/z.png,healthy\nimg/x.png,rsut\n";
  CHECK_THROWS_WITH_AS(make<xp::Dataset>("csv_images", {{"train_csv", (tmp.path / "train.csv").string()},
                                                        {"val_csv", (tmp.path / "bad_val.csv").string()}}),
                       doctest::Contains("bad_val.csv:3: csv_images: label 'rsut'"), xp::ConfigError);
  std::ofstream(tmp.path / "no_col.csv") << "file,label\nimg/x.png,rust\n";
  CHECK_THROWS_WITH_AS(make<xp::Dataset>("csv_images", {{"train_csv", (tmp.path / "no_col.csv").string()}}),
                       doctest::Contains("no column 'path'"), xp::ConfigError);
}
