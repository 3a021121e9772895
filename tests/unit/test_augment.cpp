// The augmentation library (plugins/augment): every transform is checked for the identity at
// p = 0, output shape/type/range, determinism for a seed, image/mask alignment and parameter errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include <opencv2/imgproc.hpp>
#include <toml++/toml.h>

#include "plugin_loader.h"
#include "xp/errors.h"
#include "xp/plugin.h"

namespace {

void load_augment_library() {
  static bool loaded = [] {
    xp::PluginLoader loader(xp::PluginRegistry::instance());
    loader.load_library(XP_BINARY_DIR "/plugins/xp_augment.so");
    return true;
  }();
  (void)loaded;
}

// Params for `name` with every schema default (p included) and `overrides` on top.
xp::Params full_params(const std::string& kind, const std::string& name, const xp::Value::Table& overrides = {}) {
  load_augment_library();
  const auto& entry = xp::PluginRegistry::instance().get(kind, name);
  xp::Value::Table values;
  for (const auto& spec : entry.schema.params())
    if (!spec.default_value.is_none()) values[spec.name] = spec.default_value;
  for (const auto& [k, v] : overrides) {
    REQUIRE_MESSAGE(entry.schema.has(k), name << " has no parameter " << k);
    values[k] = v;
  }
  return xp::Params(name, values, "test.toml:1:1");
}

std::shared_ptr<xp::Augmentation> make(const std::string& name, const xp::Value::Table& overrides = {}) {
  return xp::build_augmentation(full_params("augmentation", name, overrides));
}
std::shared_ptr<xp::BatchAugmentation> make_batch(const std::string& name, const xp::Value::Table& overrides = {}) {
  return xp::create<xp::BatchAugmentation>(full_params("batch_augmentation", name, overrides));
}

xp::Value floats(std::vector<double> v) {
  xp::Value::List l(v.begin(), v.end());
  return xp::Value(l);
}
xp::Value ints(std::vector<int64_t> v) {
  xp::Value::List l(v.begin(), v.end());
  return xp::Value(l);
}
xp::Value plugin(const std::string& name, xp::Value::Table t = {}) {
  t["plugin"] = name;
  return xp::Value(t);
}

// A textured RGB image with a mask; deterministic.
xp::Sample textured_sample(int h = 48, int w = 64) {
  xp::Sample s;
  s.image.create(h, w, CV_8UC3);
  xp::Rng rng(7);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      s.image.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>(rng.integer(20, 235)),
                                              static_cast<uchar>((x * 4) & 255), static_cast<uchar>((y * 5) & 255));
  s.mask = cv::Mat::zeros(h, w, CV_8U);
  cv::rectangle(s.mask, cv::Rect(5, 4, 20, 12), cv::Scalar(1), cv::FILLED);
  return s;
}

// Image whose every channel is 255 exactly where the mask is 1: an asymmetric L-shape, so that
// flips and turns are caught, away from the borders.
xp::Sample aligned_sample(int h = 48, int w = 64) {
  xp::Sample s;
  s.mask = cv::Mat::zeros(h, w, CV_8U);
  cv::rectangle(s.mask, cv::Rect(10, 8, 30, 6), cv::Scalar(1), cv::FILLED);
  cv::rectangle(s.mask, cv::Rect(10, 8, 6, 25), cv::Scalar(1), cv::FILLED);
  cv::Mat plane = s.mask * 255;
  cv::merge(std::vector<cv::Mat>{plane, plane, plane}, s.image);
  return s;
}

bool same(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size() || a.type() != b.type()) return false;
  if (a.empty()) return true;
  return cv::norm(a, b, cv::NORM_INF) == 0;
}

// Every per-sample transform with parameters that make it do something visible.
struct Case {
  std::string name;
  xp::Value::Table params;
  bool geometric;
};
std::vector<Case> all_cases() {
  xp::Value::Table nearest{{"interpolation", "nearest"}};
  auto with = [](xp::Value::Table t, const std::string& k, xp::Value v) {
    t[k] = std::move(v);
    return t;
  };
  return {
      {"random_resized_crop", with(with(nearest, "size", ints({32, 40})), "scale", floats({0.3, 1.0})), true},
      {"resize", with(with(nearest, "size", ints({24, 30})), "interpolation", "nearest"), true},
      {"center_crop", {{"size", ints({30, 50})}}, true},
      {"random_crop", {{"size", ints({40, 40})}, {"padding", 4}}, true},
      {"pad", {{"amount", ints({3, 5})}, {"min_size", ints({60, 60})}}, true},
      {"hflip", {{"p", 1.0}}, true},
      {"vflip", {{"p", 1.0}}, true},
      {"rotate90", {{"turns", ints({1, 2, 3})}}, true},
      {"rotate", with(nearest, "limit", 40.0), true},
      {"affine", with(with(with(nearest, "degrees", floats({-20, 20})), "translate", floats({0.1, 0.1})), "shear",
                      floats({-10, 10})), true},
      {"shift_scale_rotate", with(with(nearest, "border_mode", "constant"), "rotate_limit", 30.0), true},
      {"elastic", with(with(nearest, "alpha", 20.0), "border_mode", "constant"), true},
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
      {"coarse_dropout", {}, false},
      {"normalize", {}, false},
      {"compose", {{"transforms", xp::Value::List{plugin("hflip", {{"p", 1.0}}), plugin("gamma")}}}, true},
      {"one_of", {{"transforms", xp::Value::List{plugin("vflip", {{"p", 1.0}}), plugin("rotate90")}}}, true},
      {"some_of",
       {{"transforms", xp::Value::List{plugin("hflip", {{"p", 1.0}}), plugin("vflip", {{"p", 1.0}}), plugin("gamma")}},
        {"n", ints({2})}},
       true},
      {"rand_augment", {{"n", 3}}, true},
      {"trivial_augment", {}, true},
  };
}

}  // namespace

TEST_CASE("augment: every registered transform has a test case") {
  load_augment_library();
  std::vector<std::string> covered;
  for (const auto& c : all_cases()) covered.push_back(c.name);
  for (const auto* e : xp::PluginRegistry::instance().list("augmentation")) {
    if (e->library.find("xp_augment.so") == std::string::npos) continue;
    CHECK_MESSAGE(std::find(covered.begin(), covered.end(), e->name) != covered.end(), e->name << " is untested");
    for (const auto& spec : e->schema.params()) CHECK_MESSAGE(!spec.doc.empty(), e->name << "." << spec.name);
  }
}

TEST_CASE("augment: p = 0 is the identity") {
  for (const auto& c : all_cases()) {
    CAPTURE(c.name);
    auto params = c.params;
    params["p"] = 0.0;
    auto aug = make(c.name, params);
    auto s = textured_sample();
    auto before = s.image.clone(), mask = s.mask.clone();
    xp::Rng rng(3);
    aug->apply(s, rng);
    CHECK(same(s.image, before));
    CHECK(same(s.mask, mask));
  }
}

TEST_CASE("augment: shape, type and value range; the mask follows the image size") {
  for (const auto& c : all_cases()) {
    CAPTURE(c.name);
    auto aug = make(c.name, c.params);
    for (uint64_t seed = 0; seed < 5; ++seed) {
      auto s = textured_sample();
      xp::Rng rng(seed);
      aug->apply(s, rng);
      REQUIRE(!s.image.empty());
      CHECK(s.image.channels() == 3);
      CHECK(s.mask.size() == s.image.size());
      CHECK(s.mask.type() == CV_8U);
      double lo, hi;
      cv::minMaxLoc(s.mask, &lo, &hi);
      CHECK(hi <= 1.0);  // no fill other than 0 appeared (mask_fill defaults to 0)
      if (c.name == "normalize") {
        CHECK(s.image.depth() == CV_32F);
        cv::minMaxLoc(s.image.reshape(1), &lo, &hi);
        CHECK(lo >= -2.2);
        CHECK(hi <= 2.7);
      } else {
        CHECK(s.image.depth() == CV_8U);
      }
    }
  }
  auto s = textured_sample();
  xp::Rng rng(0);
  make("random_resized_crop", {{"size", ints({32, 40})}})->apply(s, rng);
  CHECK(s.image.size() == cv::Size(40, 32));
  make("center_crop", {{"size", ints({60, 70})}})->apply(s, rng);  // larger than the image: padded
  CHECK(s.image.size() == cv::Size(70, 60));
  make("resize", {{"size", ints({16})}})->apply(s, rng);  // shorter side
  CHECK(s.image.size() == cv::Size(19, 16));
}

TEST_CASE("augment: a seed fixes the result; other seeds vary it") {
  for (const auto& c : all_cases()) {
    CAPTURE(c.name);
    auto aug = make(c.name, c.params);
    auto a = textured_sample(), b = textured_sample();
    xp::Rng ra(11), rb(11);
    aug->apply(a, ra);
    aug->apply(b, rb);
    CHECK(same(a.image, b.image));
    CHECK(same(a.mask, b.mask));
  }
  const std::vector<std::string> random_ones{"random_resized_crop", "rotate", "color_jitter", "gaussian_noise",
                                             "coarse_dropout", "rand_augment", "elastic"};
  for (const auto& c : all_cases()) {
    if (std::find(random_ones.begin(), random_ones.end(), c.name) == random_ones.end()) continue;
    CAPTURE(c.name);
    auto aug = make(c.name, c.params);
    int distinct = 0;
    auto first = textured_sample();
    xp::Rng r0(100);
    aug->apply(first, r0);
    for (uint64_t seed = 101; seed < 105; ++seed) {
      auto s = textured_sample();
      xp::Rng rng(seed);
      aug->apply(s, rng);
      distinct += !same(s.image, first.image);
    }
    CHECK(distinct >= 3);
  }
}

TEST_CASE("augment: geometric transforms keep mask and image aligned; photometric ones leave the mask") {
  for (const auto& c : all_cases()) {
    CAPTURE(c.name);
    if (c.name == "normalize") continue;
    auto aug = make(c.name, c.params);
    for (uint64_t seed = 0; seed < 8; ++seed) {
      CAPTURE(seed);
      auto s = aligned_sample();
      auto mask_before = s.mask.clone();
      xp::Rng rng(seed);
      aug->apply(s, rng);
      if (!c.geometric) {
        CHECK(same(s.mask, mask_before));
        continue;
      }
      if (c.name == "compose" || c.name == "some_of" || c.name == "rand_augment" || c.name == "trivial_augment") {
        // Photometric members remap grey levels, checked in the next test case.
        continue;
      }
      std::vector<cv::Mat> planes;
      cv::split(s.image, planes);
      CHECK(same(planes[0], s.mask * 255));
      CHECK(cv::countNonZero(s.mask) > 0);
    }
  }
}

// Policies mix geometric and photometric operations. Foreground 200 / background 60 stay two
// separable grey levels under every pointwise operation (solarize may swap their order), so after
// any chain the image must still split exactly along the mask. Uncovered areas get mask 255 and
// are ignored, and so is a one-pixel band along the boundary, which sharpness blends.
TEST_CASE("augment: policies and compositions keep mask and image aligned") {
  for (const auto& c : all_cases()) {
    if (c.name != "compose" && c.name != "some_of" && c.name != "rand_augment" && c.name != "trivial_augment")
      continue;
    CAPTURE(c.name);
    auto params = c.params;
    if (c.name == "rand_augment" || c.name == "trivial_augment") params["mask_fill"] = 255;
    auto aug = make(c.name, params);
    for (uint64_t seed = 0; seed < 40; ++seed) {
      CAPTURE(seed);
      auto s = aligned_sample();
      s.image = s.mask * 140 + 60;
      cv::cvtColor(s.image, s.image, cv::COLOR_GRAY2RGB);
      xp::Rng rng(seed);
      aug->apply(s, rng);
      std::vector<cv::Mat> planes;
      cv::split(s.image, planes);
      cv::Mat kernel = cv::getStructuringElement(cv::MORPH_RECT, cv::Size(3, 3));
      cv::Mat fg, bg;
      cv::erode(s.mask == 1, fg, kernel);
      cv::erode(s.mask == 0, bg, kernel);
      if (cv::countNonZero(fg) == 0 || cv::countNonZero(bg) == 0) continue;
      double fg_lo, fg_hi, bg_lo, bg_hi;
      cv::minMaxLoc(planes[0], &fg_lo, &fg_hi, nullptr, nullptr, fg);
      cv::minMaxLoc(planes[0], &bg_lo, &bg_hi, nullptr, nullptr, bg);
      // Two strong contrast reductions then posterize can merge the levels: nothing to compare.
      if (fg_lo == fg_hi && bg_lo == bg_hi && fg_lo == bg_lo) continue;
      CHECK((fg_lo > bg_hi || bg_lo > fg_hi));
    }
  }
}

TEST_CASE("augment: what each transform does") {
  auto s = aligned_sample();
  xp::Rng rng(1);
  auto original = s.mask.clone();
  make("hflip", {{"p", 1.0}})->apply(s, rng);
  cv::Mat flipped;
  cv::flip(original, flipped, 1);
  CHECK(same(s.mask, flipped));

  s = textured_sample();
  make("to_gray")->apply(s, rng);
  std::vector<cv::Mat> planes;
  cv::split(s.image, planes);
  CHECK(same(planes[0], planes[1]));
  CHECK(same(planes[1], planes[2]));

  s = textured_sample();
  s.image.setTo(cv::Scalar(255, 0, 128));
  make("normalize", {{"mean", floats({0.5})}, {"std", floats({0.5})}})->apply(s, rng);
  auto px = s.image.at<cv::Vec3f>(0, 0);
  CHECK(px[0] == doctest::Approx(1.0));
  CHECK(px[1] == doctest::Approx(-1.0));
  CHECK(px[2] == doctest::Approx(128.0 / 127.5 - 1.0).epsilon(1e-5));

  s = textured_sample();
  auto before = s.image.clone();
  make("image_compression", {{"quality_range", ints({30, 30})}})->apply(s, rng);
  const double diff = cv::norm(s.image, before, cv::NORM_L1) / before.total() / 3;
  CHECK(diff > 0.5);
  CHECK(diff < 25);

  s = textured_sample(128, 128);
  s.image.setTo(cv::Scalar(128, 128, 128));
  make("gaussian_noise", {{"var_limit", floats({100, 100})}})->apply(s, rng);
  cv::Scalar mean, sd;
  cv::meanStdDev(s.image.reshape(1), mean, sd);
  CHECK(mean[0] == doctest::Approx(128).epsilon(0.01));
  CHECK(sd[0] == doctest::Approx(10).epsilon(0.05));

  // one_of honours weights: the zero-weight branch never runs.
  auto one = make("one_of", {{"transforms", xp::Value::List{plugin("vflip", {{"p", 1.0}}), plugin("hflip", {{"p", 1.0}})}},
                             {"weights", floats({0, 1})}});
  for (uint64_t seed = 0; seed < 10; ++seed) {
    auto t = aligned_sample();
    xp::Rng r(seed);
    one->apply(t, r);
    CHECK(same(t.mask, flipped));
  }
  // A child's default p comes from its schema when the table omits it (hflip: 0.5).
  auto half = make("compose", {{"transforms", xp::Value::List{plugin("hflip")}}});
  int flips = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    auto t = aligned_sample();
    xp::Rng r(seed);
    half->apply(t, r);
    flips += same(t.mask, flipped);
  }
  CHECK(flips > 70);
  CHECK(flips < 130);
}

TEST_CASE("augment: photometric transforms refuse float images with a clear message") {
  auto s = textured_sample();
  xp::Rng rng(0);
  make("normalize")->apply(s, rng);
  CHECK_THROWS_WITH(make("color_jitter", {{"brightness", 0.2}})->apply(s, rng), doctest::Contains("before `normalize`"));
}

TEST_CASE("augment: bad parameters are configuration errors at the table's position") {
  auto bad = [](const std::string& name, const xp::Value::Table& params, const std::string& text) {
    CAPTURE(name);
    CHECK_THROWS_WITH_AS(make(name, params), doctest::Contains(text.c_str()), xp::ConfigError);
    CHECK_THROWS_WITH_AS(make(name, params), doctest::Contains("test.toml:1:1"), xp::ConfigError);
  };
  bad("random_resized_crop", {{"scale", floats({0.9, 0.1})}}, "lo <= hi");
  bad("random_resized_crop", {{"size", ints({1, 2, 3})}}, "[height, width]");
  bad("gaussian_blur", {{"blur_limit", ints({4, 4})}}, "no odd kernel size");
  bad("normalize", {{"mean", floats({0.5, 0.5})}, {"std", floats({0.5})}}, "same length");
  bad("one_of", {{"transforms", xp::Value::List{plugin("hflip")}}, {"weights", floats({1, 2})}}, "2 values for 1");
  bad("one_of", {}, "must not be empty");
  bad("some_of", {{"transforms", xp::Value::List{plugin("hflip")}}, {"n", ints({2})}}, "up to 2 of 1");
  bad("random_shadow", {{"shadow_roi", floats({0.5, 0, 0.2, 1})}}, "min < max");
  bad("pad", {{"amount", ints({1, 2, 3})}}, "1, 2 or 4");
  CHECK_THROWS_WITH_AS(make("compose", {{"transforms", xp::Value::List{plugin("hfilp")}}}),
                       doctest::Contains("did you mean 'hflip'"), xp::ConfigError);
  // A small image is padded, or refused when padding is off.
  auto s = textured_sample(20, 20);
  xp::Rng rng(0);
  CHECK_THROWS_WITH(make("random_crop", {{"size", ints({32, 32})}, {"pad_if_needed", false}})->apply(s, rng),
                    doctest::Contains("smaller than the crop"));
}

namespace {
xp::Batch classification_batch(int64_t b = 6, int64_t k = 4) {
  xp::Batch batch;
  batch.input = torch::rand({b, 3, 16, 16});
  batch.target = torch::arange(b) % k;
  return batch;
}
}  // namespace

TEST_CASE("augment: mixup and cutmix soft targets are distributions over the batch's labels") {
  for (const std::string name : {"mixup", "cutmix", "mixup_cutmix"}) {
    CAPTURE(name);
    auto aug = make_batch(name);
    for (uint64_t seed = 0; seed < 5; ++seed) {
      auto batch = classification_batch();
      auto original = batch.input.clone();
      xp::Rng rng(seed);
      aug->apply(batch, 4, rng);
      REQUIRE(batch.soft_target.defined());
      CHECK(batch.soft_target.sizes() == torch::IntArrayRef({6, 4}));
      CHECK(torch::allclose(batch.soft_target.sum(1), torch::ones({6})));
      CHECK(batch.soft_target.min().item<float>() >= 0);
      CHECK(batch.input.sizes() == original.sizes());
      // Mixing again mixes the soft targets, which stay distributions.
      aug->apply(batch, 4, rng);
      CHECK(torch::allclose(batch.soft_target.sum(1), torch::ones({6})));
    }
  }
  // cutmix: the label weight of the pasted partner equals the pasted area.
  auto batch = classification_batch(2, 2);
  batch.input = torch::stack({torch::zeros({3, 16, 16}), torch::ones({3, 16, 16})});
  xp::Rng rng(5);
  make_batch("cutmix", {{"alpha", 1.0}})->apply(batch, 2, rng);
  const float pasted = batch.input[0].mean().item<float>();  // image 0 is zeros; pasted area is ones
  const float label1 = batch.soft_target[0][1].item<float>();
  if (batch.input[0].sum().item<float>() > 0) CHECK(label1 == doctest::Approx(pasted).epsilon(1e-4));
  auto fresh = classification_batch();
  CHECK_THROWS_WITH(make_batch("mixup")->apply(fresh, 0, rng), doctest::Contains("number of classes"));
}

TEST_CASE("augment: cutmix pastes segmentation masks with the image; mixup refuses them") {
  xp::Batch batch;
  // Each image is filled with its index and its mask with index too: pasted regions must match.
  batch.input = torch::arange(4).to(torch::kFloat).view({4, 1, 1, 1}).expand({4, 3, 32, 32}).contiguous();
  batch.target = torch::arange(4).to(torch::kFloat).view({4, 1, 1, 1}).expand({4, 1, 32, 32}).contiguous();
  xp::Rng rng(2);
  make_batch("cutmix")->apply(batch, 0, rng);
  CHECK(torch::equal(batch.input.select(1, 0), batch.target.select(1, 0)));
  CHECK(!batch.soft_target.defined());
  CHECK_THROWS_WITH_AS(make_batch("mixup")->apply(batch, 0, rng), doctest::Contains("segmentation"), xp::ConfigError);
}

namespace {
xp::Value to_value(const toml::node& node) {
  if (auto v = node.as_boolean()) return xp::Value(v->get());
  if (auto v = node.as_integer()) return xp::Value(static_cast<int64_t>(v->get()));
  if (auto v = node.as_floating_point()) return xp::Value(v->get());
  if (auto v = node.as_string()) return xp::Value(v->get());
  if (auto a = node.as_array()) {
    xp::Value::List l;
    for (const auto& e : *a) l.push_back(to_value(e));
    return xp::Value(l);
  }
  xp::Value::Table t;
  for (const auto& [k, v] : *node.as_table()) t[std::string(k.str())] = to_value(v);
  return xp::Value(t);
}
}  // namespace

TEST_CASE("augment: the tier presets build and run") {
  for (const std::string tier : {"light", "medium", "heavy"}) {
    CAPTURE(tier);
    auto doc = toml::parse_file(std::string(XP_SOURCE_DIR) + "/experiments/presets/" + tier + ".toml");
    auto* list = doc["augment"].as_array();
    REQUIRE(list);
    std::vector<std::shared_ptr<xp::Augmentation>> chain;
    for (const auto& entry : *list) {
      auto table = to_value(entry).as_table();
      std::string name = table.at("plugin").as_string();
      table.erase("plugin");
      chain.push_back(make(name, table));
    }
    auto s = textured_sample(300, 280);
    xp::Rng rng(9);
    for (const auto& a : chain) a->apply(s, rng);
    CHECK(s.image.depth() == CV_32F);
    CHECK(s.image.size() == cv::Size(224, 224));
    CHECK(s.mask.size() == s.image.size());
    if (auto* batch = doc["batch_augment"].as_array()) {
      CHECK(tier == "heavy");
      for (const auto& entry : *batch) {
        auto table = to_value(entry).as_table();
        std::string name = table.at("plugin").as_string();
        table.erase("plugin");
        CHECK_NOTHROW(make_batch(name, table));
      }
    }
  }
}
