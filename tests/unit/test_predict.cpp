// Using trained models: sliding-window segmentation == a whole-image forward for a model without
// spatial context, objects == the mask's connected components, safetensors round trip, torchvision
// key names, and the distillation loss against values computed by hand.
#include <doctest/doctest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <cmath>
#include <deque>
#include <fstream>
#include <random>
#include <tuple>
#include <set>

#include <unistd.h>

#include "config/experiment.h"
#include "engine/checkpoint.h"
#include "engine/experiment_runner.h"
#include "export/safetensors.h"
#include "export/torchvision_names.h"
#include "inference/objects.h"
#include "inference/scene_raster.h"
#include "inference/scene_segmenter.h"
#include "inference/sliding_window.h"
#include "plugin_loader.h"
#include "test_classification_support.h"
#include "xp/errors.h"
#include "xp/trained_model.h"

namespace fs = std::filesystem;

namespace {

// Per-pixel: 1x1 convolutions only, so a window's output at a pixel does not depend on the window.
struct PointwiseModel : xp::Model {
  torch::nn::Conv2d a{nullptr}, b{nullptr};
  PointwiseModel() {
    torch::manual_seed(7);
    a = register_module("a", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 8, 1)));
    b = register_module("b", torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 1, 1)));
  }
  xp::ModelOutput forward(const torch::Tensor& x) override { return {b->forward(torch::tanh(a->forward(x))) * 3.0, {}}; }
};

cv::Mat random_scene(int h, int w, uint64_t seed) {
  cv::Mat m(h, w, CV_8UC3);
  cv::randu(m, cv::Scalar::all(0), cv::Scalar::all(255));
  (void)seed;
  return m;
}

torch::Tensor to_input(const cv::Mat& m) {
  return torch::from_blob(m.data, {m.rows, m.cols, 3}, torch::kUInt8).permute({2, 0, 1}).to(torch::kFloat).div(255.0);
}

torch::Tensor slide(xp::Model& model, const cv::Mat& scene, xp::inference::SlidingWindowOptions o) {
  torch::Tensor out = torch::full({1, scene.rows, scene.cols}, -1.0f);
  int64_t next_row = 0;
  xp::inference::sliding_window(model, scene, [](const cv::Mat& w) { return to_input(w.clone()); }, o,
                                [&](int64_t y0, const torch::Tensor& rows) {
                                  CHECK(y0 == next_row);  // rows arrive once, in order
                                  next_row = y0 + rows.size(1);
                                  out.narrow(1, y0, rows.size(1)).copy_(rows);
                                });
  CHECK(next_row == scene.rows);
  return out;
}

}  // namespace

TEST_CASE("predict: window origins cover the axis, the last flush with the edge") {
  using xp::inference::window_origins;
  CHECK(window_origins(100, 32, 0.25) == std::vector<int64_t>{0, 24, 48, 68});
  CHECK(window_origins(64, 32, 0.0) == std::vector<int64_t>{0, 32});
  CHECK(window_origins(20, 32, 0.5) == std::vector<int64_t>{0});
  auto w = xp::inference::blend_weights(8, 6, "hann");
  CHECK(w.min().item<float>() > 0);
  CHECK(w[3][2].item<float>() > w[0][0].item<float>());
  CHECK_THROWS_AS(xp::inference::blend_weights(8, 8, "gauss"), xp::ConfigError);
}

TEST_CASE("predict: sliding windows over a scene of awkward size equal one whole-image forward") {
  PointwiseModel model;
  model.eval();
  torch::NoGradGuard no_grad;
  const cv::Mat scene = random_scene(75, 53, 1);  // not a multiple of any window below
  const torch::Tensor whole = torch::sigmoid(model.forward(to_input(scene.clone()).unsqueeze(0)).logits)[0];
  for (const std::string blend : {"hann", "uniform"})
    for (double overlap : {0.0, 0.25, 0.5})
      for (const std::string tta : {"none", "d4"}) {
        CAPTURE(blend);
        CAPTURE(overlap);
        CAPTURE(tta);
        xp::inference::SlidingWindowOptions o;
        o.window_h = o.window_w = 24;
        o.overlap = overlap;
        o.blend = blend;
        o.tta = tta;
        o.batch_size = 3;
        torch::Tensor got = slide(model, scene, o);
        CHECK((got - whole).abs().max().item<float>() < 1e-5);
      }
  // Non-square windows, and a scene smaller than a window (reflect-padded, then cropped).
  xp::inference::SlidingWindowOptions o;
  o.window_h = 16;
  o.window_w = 40;
  CHECK((slide(model, scene, o) - whole).abs().max().item<float>() < 1e-5);
  const cv::Mat small = scene(cv::Rect(0, 0, 10, 7)).clone();
  const torch::Tensor small_whole = torch::sigmoid(model.forward(to_input(small.clone()).unsqueeze(0)).logits)[0];
  CHECK((slide(model, small, o) - small_whole).abs().max().item<float>() < 1e-5);
  // Read in strips (what xp predict does with GDAL): each read is one window-high strip, each
  // strip once, and the result is the same.
  {
    xp::inference::SlidingWindowOptions so;
    so.window_h = so.window_w = 24;
    so.batch_size = 5;
    torch::Tensor got = torch::full({1, scene.rows, scene.cols}, -1.0f);
    std::set<int64_t> strips;
    xp::inference::sliding_window(
        model, scene.rows, scene.cols,
        [&](int64_t y0, int64_t n) {
          CHECK(n == 24);
          CHECK(strips.insert(y0).second);
          return scene.rowRange(static_cast<int>(y0), static_cast<int>(y0 + n)).clone();
        },
        [](const cv::Mat& w) { return to_input(w.clone()); }, so,
        [&](int64_t y0, const torch::Tensor& rows) { got.narrow(1, y0, rows.size(1)).copy_(rows); });
    CHECK(strips.size() == xp::inference::window_origins(scene.rows, 24, so.overlap).size());
    CHECK((got - whole).abs().max().item<float>() < 1e-5);
  }
  // Windows copied as uint8 and made float by a pixel conversion (what xp predict does on a GPU when
  // the run's evaluation transforms are only that conversion): `prepare` is never called, and the
  // result is the same; on a GPU too where there is one (the band and the blending on the device,
  // the rows sent from their own thread).
  {
    std::vector<torch::Device> devices{torch::kCPU};
    if (torch::cuda::is_available()) devices.emplace_back(torch::kCUDA);
    for (const auto& device : devices) {
      CAPTURE(device.str());
      model.to(device);
      xp::inference::SlidingWindowOptions co;
      co.window_h = co.window_w = 24;
      co.batch_size = 4;
      co.tta = "flips";
      co.device = device;
      co.device_conversion = xp::data::PixelConversion::unit_range();
      torch::Tensor got = torch::full({1, scene.rows, scene.cols}, -1.0f);
      int64_t next_row = 0;
      xp::inference::sliding_window(
          model, scene, [](const cv::Mat&) -> torch::Tensor { throw std::logic_error("prepare called"); }, co,
          [&](int64_t y0, const torch::Tensor& rows) {
            CHECK(y0 == next_row);
            CHECK(rows.device().is_cpu());
            next_row = y0 + rows.size(1);
            got.narrow(1, y0, rows.size(1)).copy_(rows);
          });
      CHECK(next_row == scene.rows);
      CHECK((got - whole).abs().max().item<float>() < 1e-4);
      model.to(torch::kCPU);
    }
  }
  // Temperature divides the logits.
  o.temperature = 2.0;
  const torch::Tensor tempered = torch::sigmoid(model.forward(to_input(scene.clone()).unsqueeze(0)).logits / 2.0)[0];
  CHECK((slide(model, scene, o) - tempered).abs().max().item<float>() < 1e-5);
  o.tta = "d4";
  CHECK_THROWS_WITH_AS(slide(model, scene, o), doctest::Contains("square"), xp::ConfigError);
}

TEST_CASE("predict: a model with spatial context is seamless only up to its receptive field") {
  // A 5x5 mean filter: away from the scene border, windows with enough overlap and hann blending
  // reproduce the whole-image result far better than no overlap does (the test can fail).
  struct Blur : xp::Model {
    xp::ModelOutput forward(const torch::Tensor& x) override {
      auto k = torch::full({1, 3, 5, 5}, 1.0f / 75);
      return {torch::conv2d(x, k, {}, 1, 2) * 8 - 4, {}};
    }
  } model;
  torch::NoGradGuard no_grad;
  const cv::Mat scene = random_scene(70, 90, 2);
  const torch::Tensor whole = torch::sigmoid(model.forward(to_input(scene.clone()).unsqueeze(0)).logits)[0];
  auto interior_error = [&](double overlap) {
    xp::inference::SlidingWindowOptions o;
    o.window_h = o.window_w = 32;
    o.overlap = overlap;
    return (slide(model, scene, o) - whole).narrow(1, 2, 66).narrow(2, 2, 86).abs().mean().item<double>();
  };
  CHECK(interior_error(0.5) < 0.5 * interior_error(0.0));
}

TEST_CASE("predict: objects are the mask's 8-connected components, with their probabilities") {
  std::mt19937 gen(5);
  cv::Mat prob(61, 47, CV_16U, cv::Scalar(0));
  for (int i = 0; i < 25; ++i) {
    cv::Point c(static_cast<int>(gen() % 47), static_cast<int>(gen() % 61));
    cv::circle(prob, c, 1 + static_cast<int>(gen() % 4), cv::Scalar(20000 + gen() % 45000), -1);
  }
  cv::Mat mask;
  cv::compare(prob, 30000, mask, cv::CMP_GE);
  const auto objects = xp::inference::find_objects(mask, prob);
  // Independent: breadth-first flood fill in raster order.
  std::vector<int> label(static_cast<size_t>(mask.total()), 0);
  std::vector<xp::inference::SceneObject> expected;
  for (int y = 0; y < mask.rows; ++y)
    for (int x = 0; x < mask.cols; ++x) {
      if (!mask.at<uint8_t>(y, x) || label[static_cast<size_t>(y * mask.cols + x)]) continue;
      xp::inference::SceneObject o;
      o.id = static_cast<int64_t>(expected.size()) + 1;
      int x0 = x, x1 = x, y0 = y, y1 = y;
      double sx = 0, sy = 0, sp = 0, mp = 0;
      std::deque<cv::Point> queue{{x, y}};
      label[static_cast<size_t>(y * mask.cols + x)] = static_cast<int>(o.id);
      while (!queue.empty()) {
        cv::Point p = queue.front();
        queue.pop_front();
        ++o.area;
        sx += p.x, sy += p.y;
        const double v = prob.at<uint16_t>(p.y, p.x) / 65535.0;
        sp += v, mp = std::max(mp, v);
        x0 = std::min(x0, p.x), x1 = std::max(x1, p.x), y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx) {
            const int nx = p.x + dx, ny = p.y + dy;
            if (nx < 0 || ny < 0 || nx >= mask.cols || ny >= mask.rows || !mask.at<uint8_t>(ny, nx)) continue;
            int& l = label[static_cast<size_t>(ny * mask.cols + nx)];
            if (!l) l = static_cast<int>(o.id), queue.push_back({nx, ny});
          }
      }
      o.x = x0, o.y = y0, o.width = x1 - x0 + 1, o.height = y1 - y0 + 1;
      o.centroid_x = sx / o.area, o.centroid_y = sy / o.area;
      o.mean_probability = sp / o.area, o.max_probability = mp;
      expected.push_back(o);
    }
  std::sort(expected.begin(), expected.end(), [](const auto& a, const auto& b) {
    return std::tie(a.y, a.x, a.area, a.width, a.height) < std::tie(b.y, b.x, b.area, b.width, b.height);
  });
  REQUIRE(expected.size() > 3);
  REQUIRE(objects.size() == expected.size());
  for (size_t i = 0; i < objects.size(); ++i) {
    CAPTURE(i);
    CHECK(objects[i].id == static_cast<int64_t>(i) + 1);
    CHECK(objects[i].area == expected[i].area);
    CHECK(objects[i].x == expected[i].x);
    CHECK(objects[i].y == expected[i].y);
    CHECK(objects[i].width == expected[i].width);
    CHECK(objects[i].height == expected[i].height);
    CHECK(objects[i].centroid_x == doctest::Approx(expected[i].centroid_x));
    CHECK(objects[i].centroid_y == doctest::Approx(expected[i].centroid_y));
    CHECK(objects[i].mean_probability == doctest::Approx(expected[i].mean_probability));
    CHECK(objects[i].max_probability == doctest::Approx(expected[i].max_probability));
  }
  // min_area drops the small ones.
  const auto big = xp::inference::find_objects(mask, prob, 10);
  CHECK(big.size() == static_cast<size_t>(std::count_if(expected.begin(), expected.end(), [](auto& o) { return o.area >= 10; })));
}

TEST_CASE("predict: objects counted strip by strip equal the whole mask's, shapes that join late included") {
  // A U and a W join only at their bottom rows; a diagonal chain touches only at corners (8-connected).
  std::mt19937 gen(11);
  cv::Mat prob(83, 71, CV_16U, cv::Scalar(0));
  cv::rectangle(prob, {2, 2, 3, 40}, cv::Scalar(40000), -1);
  cv::rectangle(prob, {12, 2, 3, 40}, cv::Scalar(50000), -1);
  cv::rectangle(prob, {2, 41, 13, 2}, cv::Scalar(45000), -1);
  for (int x : {20, 26, 32, 38}) cv::rectangle(prob, {x, 5, 2, 30}, cv::Scalar(35000 + x), -1);
  cv::rectangle(prob, {20, 35, 20, 1}, cv::Scalar(60000), -1);
  for (int i = 0; i < 12; ++i) prob.at<uint16_t>(44 + i, 45 + i) = 65535;  // rows 44..55: clear of the discs below
  for (int i = 0; i < 40; ++i)
    cv::circle(prob, {static_cast<int>(gen() % 71), 60 + static_cast<int>(gen() % 23)}, 1 + static_cast<int>(gen() % 3),
               cv::Scalar(30000 + gen() % 35000), -1);
  cv::Mat mask;
  cv::compare(prob, 30000, mask, cv::CMP_GE);
  const auto whole = xp::inference::find_objects(mask, prob);
  // Independent count: OpenCV's labelling.
  cv::Mat labels;
  REQUIRE(whole.size() == static_cast<size_t>(cv::connectedComponents(mask, labels, 8) - 1));
  CHECK(std::any_of(whole.begin(), whole.end(), [](auto& o) { return o.x == 2 && o.width == 13 && o.height == 41; }));
  CHECK(std::any_of(whole.begin(), whole.end(), [](auto& o) { return o.x == 45 && o.area == 12; }));
  for (int strip : {1, 2, 7, 83}) {
    CAPTURE(strip);
    xp::inference::ObjectTracker tracker(mask.cols);
    for (int y = 0; y < mask.rows; y += strip) {
      const cv::Range r(y, std::min(mask.rows, y + strip));
      tracker.add_rows(mask.rowRange(r), prob.rowRange(r));
    }
    const auto parts = tracker.finish();
    REQUIRE(parts.size() == whole.size());
    for (size_t i = 0; i < parts.size(); ++i) {
      CHECK(parts[i].area == whole[i].area);
      CHECK(parts[i].x == whole[i].x);
      CHECK(parts[i].y == whole[i].y);
      CHECK(parts[i].width == whole[i].width);
      CHECK(parts[i].height == whole[i].height);
      CHECK(parts[i].centroid_x == whole[i].centroid_x);
      CHECK(parts[i].mean_probability == whole[i].mean_probability);
      CHECK(parts[i].max_probability == whole[i].max_probability);
    }
  }
}

TEST_CASE("export: safetensors round trip keeps names, order, dtypes, shapes and bytes") {
  const fs::path file = fs::temp_directory_path() / ("xp_test_" + std::to_string(::getpid()) + ".safetensors");
  xp::exporting::NamedTensors in = {{"conv.weight", torch::randn({4, 3, 3, 3})},
                                    {"bn.num_batches_tracked", torch::tensor(7, torch::kLong)},
                                    {"half", torch::randn({5}).to(torch::kHalf)},
                                    {"bf", torch::randn({2, 2}).to(torch::kBFloat16)},
                                    {"odd", torch::arange(3, torch::kByte)},  // 3 bytes: the next offset is unaligned
                                    {"empty", torch::zeros({0, 4})}};
  xp::exporting::write_safetensors(file, in, {{"format", "pt"}});
  std::ifstream raw(file, std::ios::binary);
  uint64_t n = 0;
  raw.read(reinterpret_cast<char*>(&n), 8);
  CHECK(n % 8 == 0);  // header padded to 8 bytes
  std::map<std::string, std::string> meta;
  auto out = xp::exporting::read_safetensors(file, &meta);
  CHECK(meta.at("format") == "pt");
  REQUIRE(out.size() == in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    CAPTURE(in[i].first);
    CHECK(out[i].first == in[i].first);
    CHECK(bool(out[i].second.scalar_type() == in[i].second.scalar_type()));
    CHECK(out[i].second.sizes().vec() == in[i].second.sizes().vec());
    CHECK(torch::equal(out[i].second, in[i].second));
  }
  CHECK_THROWS_AS(xp::exporting::write_safetensors(file, {{"a", torch::zeros(1)}, {"a", torch::zeros(1)}}), xp::ConfigError);
  CHECK_THROWS_AS(xp::exporting::write_safetensors(file, {{"c", torch::zeros(1, torch::kComplexFloat)}}), xp::ConfigError);
  fs::remove(file);
  CHECK_THROWS_WITH_AS(xp::exporting::write_safetensors("/nonexistent/dir/x.safetensors", in),
                       doctest::Contains("No such file"), xp::ConfigError);
}

TEST_CASE("export: resnet and mobilenet_v2 get torchvision's key names, every key mapped") {
  xp_test::load_classification_plugins();
  auto names_of = [](const std::string& plugin, xp::Value::Table overrides) {
    auto params = xp_test::params_for("model", plugin, std::move(overrides));
    auto model = xp::create<xp::Model>(params);
    xp::exporting::NamedTensors t;
    for (const auto& p : model->named_parameters()) t.emplace_back(p.key(), p.value());
    for (const auto& b : model->named_buffers()) t.emplace_back(b.key(), b.value());
    auto match = xp::exporting::torchvision_equivalent(params);
    return std::make_pair(match, xp::exporting::to_torchvision_names(match, t));
  };
  auto [r, rn] = names_of("resnet", {{"num_classes", xp::Value(int64_t{10})}});
  CHECK(r.architecture == "resnet18");
  std::set<std::string> keys;
  for (const auto& [k, t] : rn) keys.insert(k);
  for (const char* k : {"conv1.weight", "bn1.running_var", "bn1.num_batches_tracked", "layer1.0.conv1.weight",
                        "layer2.0.downsample.0.weight", "layer4.1.bn2.bias", "fc.weight", "fc.bias"})
    CHECK_MESSAGE(keys.count(k), k);
  CHECK(rn.size() == 122);  // torchvision resnet18's state_dict has 122 entries

  auto [m, mn] = names_of("mobilenet_v2", {{"num_classes", xp::Value(int64_t{10})}});
  CHECK(m.architecture == "mobilenet_v2");
  keys.clear();
  for (const auto& [k, t] : mn) keys.insert(k);
  for (const char* k : {"features.0.0.weight", "features.0.1.running_mean", "features.1.conv.0.0.weight",
                        "features.1.conv.1.weight", "features.1.conv.2.bias", "features.2.conv.0.0.weight",
                        "features.2.conv.2.weight", "features.2.conv.3.num_batches_tracked", "features.17.conv.3.weight",
                        "features.18.0.weight", "features.18.1.bias", "classifier.1.weight"})
    CHECK_MESSAGE(keys.count(k), k);
  CHECK(mn.size() == 314);  // torchvision mobilenet_v2's state_dict has 314 entries

  auto [s, sn] = names_of("resnet", {{"num_classes", xp::Value(int64_t{10})}, {"small_input", xp::Value(true)}});
  CHECK(s.architecture.empty());
  CHECK(s.reason.find("small_input") != std::string::npos);
  CHECK(sn.front().first.rfind("backbone.", 0) == 0);  // xp names kept
}

namespace {

// A finished-looking run folder: config.toml as xp records it, and a checkpoint of a fresh model.
fs::path make_teacher_run(const fs::path& dir, int64_t seed) {
  fs::create_directories(dir / "checkpoints");
  std::ofstream(dir / "config.toml") << "[experiment]\nname = \"teacher\"\nseed = " << seed << "\nvariant = \"\"\n"
                                     << "[data]\nplugin = \"synthetic_leaves\"\nimage_size = 16\ntrain_size = 4\n"
                                        "val_size = 2\ntest_size = 2\n"
                                        "[model]\nplugin = \"mlp\"\ninput_size = 768\nhidden = [8]\n"
                                        "[loss]\nplugin = \"cross_entropy\"\n[train]\nepochs = 1\nworkers = 0\n";
  xp::PluginLoader loader;
  xp::RunSpec spec = xp::resolve_recorded_run(dir / "config.toml", loader);
  auto setup = xp::engine::build_setup(spec);
  torch::optim::SGD opt(setup.model->parameters(), 0.1);
  xp::engine::save_checkpoint(dir / "checkpoints" / "best.pt", {setup.model.get(), nullptr, &opt}, {});
  return dir;
}

}  // namespace

TEST_CASE("distillation: alpha T^2 KL(teacher || student) + (1 - alpha) CE, by hand") {
  xp_test::load_classification_plugins();
  xp_test::load_plugin_library("xp_hierarchical");
  xp_test::load_plugin_library("xp_distillation");
  const fs::path root = fs::temp_directory_path() / ("xp_distill_" + std::to_string(::getpid()));
  const fs::path teacher = make_teacher_run(root / "t1", 1);
  const fs::path teacher2 = make_teacher_run(root / "t2", 2);
  const auto trained = xp::load_trained_model(teacher);
  const int64_t K = trained.info.num_classes;
  REQUIRE(K > 2);

  torch::manual_seed(3);
  xp::Batch batch;
  batch.input = torch::rand({4, 3, 16, 16});
  batch.target = torch::tensor({0, 2, 1, static_cast<int>(K - 1)}, torch::kLong);
  xp::ModelOutput student{torch::randn({4, K}, torch::requires_grad()), {}};
  torch::Tensor t = trained.model->forward(batch.input).logits.detach();

  auto by_hand = [&](const torch::Tensor& teacher_logits, double T, double alpha) {
    auto s = student.logits.detach().to(torch::kDouble), tt = teacher_logits.to(torch::kDouble);
    double kl = 0, ce = 0;
    for (int64_t i = 0; i < 4; ++i) {
      double zs = 0, zt = 0, zc = 0;
      for (int64_t k = 0; k < K; ++k) {
        zs += std::exp(s[i][k].item<double>() / T);
        zt += std::exp(tt[i][k].item<double>() / T);
        zc += std::exp(s[i][k].item<double>());
      }
      for (int64_t k = 0; k < K; ++k) {
        const double pt = std::exp(tt[i][k].item<double>() / T) / zt, ps = std::exp(s[i][k].item<double>() / T) / zs;
        kl += pt * std::log(pt / ps);
      }
      ce -= std::log(std::exp(s[i][batch.target[i].item<int64_t>()].item<double>()) / zc);
    }
    return alpha * T * T * kl / 4 + (1 - alpha) * ce / 4;
  };

  auto loss = xp_test::make<xp::Loss>("distillation", {{"teachers", xp::Value(xp::Value::List{xp::Value(teacher.string())})},
                                                         {"temperature", xp::Value(3.0)}, {"alpha", xp::Value(0.7)}});
  torch::Tensor value = loss->forward(student, batch);
  CHECK(value.item<double>() == doctest::Approx(by_hand(t, 3.0, 0.7)).epsilon(1e-5));
  value.backward();
  CHECK(student.logits.grad().defined());
  CHECK(loss->parameters().empty());  // the teacher is not trained (nor checkpointed) with the student

  // alpha = 0 is the hard loss alone; two teachers average their logits.
  auto hard_only = xp_test::make<xp::Loss>("distillation", {{"teachers", xp::Value(xp::Value::List{xp::Value(teacher.string())})},
                                                             {"alpha", xp::Value(0.0)}});
  CHECK(hard_only->forward(student, batch).item<double>() == doctest::Approx(by_hand(t, 1.0, 0.0)).epsilon(1e-5));
  auto two = xp_test::make<xp::Loss>("distillation", {{"teachers", xp::Value(xp::Value::List{xp::Value(teacher.string()),
                                                                                                 xp::Value(teacher2.string())})},
                                                       {"temperature", xp::Value(2.0)}, {"alpha", xp::Value(1.0)}});
  torch::Tensor t2 = xp::load_trained_model(teacher2).model->forward(batch.input).logits.detach();
  CHECK(two->forward(student, batch).item<double>() == doctest::Approx(by_hand((t + t2) / 2, 2.0, 1.0)).epsilon(1e-5));

  CHECK_THROWS_WITH_AS(xp_test::make<xp::Loss>("distillation", {{"teachers", xp::Value(xp::Value::List{xp::Value("nope")})}}),
                       doctest::Contains("neither a run folder"), xp::ConfigError);
  fs::remove_all(root);
}

TEST_CASE("predict: rasters written in rows read back as written (8 and 16 bit PNG)") {
  const fs::path dir = fs::temp_directory_path() / ("xp_raster_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (int type : {CV_8U, CV_16U}) {
    CAPTURE(type);
    // Wider than one 256 KiB piece per row at 16 bit, odd sizes, rows in uneven calls, and flat
    // areas beside noise (as masks and probabilities are).
    const int w = 1237, h = 301;
    cv::Mat m(h, w, type);
    cv::randu(m, cv::Scalar::all(0), cv::Scalar::all(type == CV_8U ? 256 : 65536));
    m(cv::Rect(0, 100, w, 80)).setTo(type == CV_8U ? 255 : 65535);
    const std::string path = (dir / (type == CV_8U ? "a.png" : "b.png")).string();
    {
      xp::inference::RasterWriter out(path, w, h, type);
      int y = 0;
      for (int n : {1, 50, 200, 50}) {
        out.write_rows(y, m.rowRange(y, y + n));
        y += n;
      }
      CHECK_THROWS_AS(out.write_rows(0, m.rowRange(0, 1)), xp::ConfigError);  // out of order
      out.close();
    }
    const cv::Mat back = cv::imread(path, cv::IMREAD_UNCHANGED);
    REQUIRE(back.type() == type);
    CHECK(cv::countNonZero(back != m) == 0);
  }
  fs::remove_all(dir);
}
