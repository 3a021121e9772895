// Hierarchical (species/disease) classification: class_groups filled from the dataset's class
// names, the model's joint leaf distribution, the loss's routing by the true species, the metric on
// hand-made outputs, the generated synthetic_leaves and the two-level folder/CSV readers.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <unistd.h>

#include <opencv2/imgcodecs.hpp>

#include "engine/experiment_runner.h"
#include "test_classification_support.h"

using xp_test::ints;
using xp_test::make;
namespace fs = std::filesystem;

namespace {

void load_hierarchical_plugins() {
  static const bool loaded = [] {
    xp_test::load_classification_plugins();
    xp_test::load_plugin_library("xp_hierarchical");
    return true;
  }();
  (void)loaded;
}

template <class Kind>
std::shared_ptr<Kind> make_h(const std::string& name, xp::Value::Table overrides = {}) {
  load_hierarchical_plugins();
  return make<Kind>(name, std::move(overrides));
}

// A nested plugin table as the validator hands it over: every default, the overrides, "plugin".
xp::Value nested(const std::string& kind, const std::string& name, xp::Value::Table overrides = {}) {
  load_hierarchical_plugins();
  xp::Value::Table t = xp_test::params_for(kind, name, std::move(overrides)).values();
  t["plugin"] = xp::Value(name);
  return xp::Value(std::move(t));
}

// Leaves 0, 1 are species 0; leaves 2, 3, 4 species 1.
const std::vector<int64_t> kGroups = {0, 0, 1, 1, 1};

struct TempDir {
  fs::path path;
  TempDir() {
    static int n = 0;
    path = fs::temp_directory_path() / ("xp_test_hier_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

void write_png(const fs::path& file, int value) {
  fs::create_directories(file.parent_path());
  REQUIRE(cv::imwrite(file.string(), cv::Mat(8, 8, CV_8UC3, cv::Scalar(value, 255 - value, value / 2))));
}

}  // namespace

TEST_CASE("class_groups = [] is filled from 'group/leaf' class names, in order of first appearance") {
  xp::DatasetInfo info;
  info.num_classes = 4;
  info.class_names = {"tomato/blight", "tomato/healthy", "apple/scab", "tomato-cherry/healthy"};
  xp::Params p("hierarchical", {{"class_groups", ints({})}, {"num_classes", xp::Value(int64_t{0})}}, "e.toml:3:1");
  xp::Params filled = xp::engine::fill_from_dataset(p, info);
  CHECK((filled.get_ints("class_groups") == std::vector<int64_t>{0, 0, 1, 2}));
  CHECK(filled.get_int("num_classes") == 4);
  // Given groups are kept; plugins without the parameter are untouched.
  xp::Params given("hierarchical", {{"class_groups", ints({1, 0, 0, 0})}});
  CHECK((xp::engine::fill_from_dataset(given, info).get_ints("class_groups") == std::vector<int64_t>{1, 0, 0, 0}));
  CHECK(!xp::engine::fill_from_dataset(xp::Params("top1", {}), info).has("class_groups"));

  // Flat class names: a clear error at the plugin's table, naming the class.
  info.class_names = {"tomato/blight", "cat"};
  CHECK_THROWS_WITH_AS(xp::engine::fill_from_dataset(p, info),
                       doctest::Contains("e.toml:3:1: hierarchical: class_groups = [] takes the groups"),
                       xp::ConfigError);
  CHECK_THROWS_WITH_AS(xp::engine::fill_from_dataset(p, info), doctest::Contains("class 1 is named 'cat'"),
                       xp::ConfigError);
  info.class_names = {};
  CHECK_THROWS_WITH_AS(xp::engine::fill_from_dataset(p, info), doctest::Contains("does not name its classes"),
                       xp::ConfigError);
  CHECK_THROWS_WITH_AS(xp::engine::class_groups_from_names({"a/", "b/x"}), doctest::Contains("class 0 is named 'a/'"),
                       xp::ConfigError);
}

TEST_CASE("model hierarchical: shapes, a proper joint over leaves, backbone registered as 'backbone'") {
  torch::manual_seed(3);
  auto backbone = nested("model", "simple_cnn", {{"in_channels", 3}, {"channels", ints({4, 8})}, {"hidden", 0},
                                                 {"pooled_size", 2}});
  auto model = make_h<xp::Model>("hierarchical", {{"backbone", backbone}, {"class_groups", ints(kGroups)},
                                                  {"num_classes", 5}, {"probe_size", 16}});
  model->eval();
  torch::Tensor x = torch::randn({3, 3, 16, 16});
  xp::ModelOutput out = model->forward(x);
  CHECK((out.logits.sizes() == std::vector<int64_t>{3, 5}));
  CHECK((out.aux.at("species").sizes() == std::vector<int64_t>{3, 2}));
  CHECK((out.aux.at("disease").sizes() == std::vector<int64_t>{3, 5}));
  CHECK((out.aux.at("features").sizes() == std::vector<int64_t>{3, 8 * 2 * 2}));
  torch::Tensor total = out.logits.exp().sum(1);
  for (int64_t i = 0; i < 3; ++i) CHECK(total[i].item<double>() == doctest::Approx(1.0).epsilon(1e-5));
  // The species marginal of the joint is the species head's softmax.
  torch::Tensor p_species0 = out.logits.exp().slice(1, 0, 2).sum(1);
  torch::Tensor head = torch::softmax(out.aux.at("species"), 1).select(1, 0);
  CHECK(torch::allclose(p_species0, head, 1e-5, 1e-6));
  // Within a species, the disease head's softmax over that species' leaves.
  torch::Tensor within = torch::softmax(out.aux.at("disease").slice(1, 2, 5), 1);
  torch::Tensor joint = out.logits.exp().slice(1, 2, 5);
  CHECK(torch::allclose(joint / joint.sum(1, true), within, 1e-5, 1e-6));

  std::set<std::string> prefixes;
  for (const auto& item : model->named_parameters()) prefixes.insert(item.key().substr(0, item.key().find('.')));
  CHECK((prefixes == std::set<std::string>{"backbone", "species_head", "disease_head"}));
  // The measured feature width matches the backbone; a mismatching num_classes is refused.
  CHECK(model->named_parameters()["disease_head.weight"].size(1) == 32);
  CHECK_THROWS_WITH_AS(make_h<xp::Model>("hierarchical", {{"backbone", backbone}, {"class_groups", ints(kGroups)},
                                                          {"num_classes", 7}}),
                       doctest::Contains("num_classes is 7 but class_groups lists 5"), xp::ConfigError);
  CHECK_THROWS_WITH_AS(make_h<xp::Model>("hierarchical", {{"backbone", backbone}, {"class_groups", ints({0, 2})}}),
                       doctest::Contains("no class in group 1"), xp::ConfigError);
}

TEST_CASE("loss hierarchical: species term + lambda x disease term routed by the true species") {
  auto loss = make_h<xp::Loss>("hierarchical", {{"class_groups", ints(kGroups)}, {"lambda", 0.5}});
  torch::manual_seed(5);
  xp::ModelOutput out;
  out.aux["species"] = torch::randn({2, 2});
  out.aux["disease"] = torch::randn({2, 5});
  out.logits = torch::zeros({2, 5});
  xp::Batch batch;
  batch.target = torch::tensor(std::vector<int64_t>{1, 3});
  const double value = loss->forward(out, batch).item<double>();

  // By hand: CE of the species head on species (0, 1), plus 0.5 x CE within each true species.
  auto s = torch::log_softmax(out.aux["species"], 1);
  auto d0 = torch::log_softmax(out.aux["disease"][0].slice(0, 0, 2), 0);
  auto d1 = torch::log_softmax(out.aux["disease"][1].slice(0, 2, 5), 0);
  const double expected = -(s[0][0].item<double>() + s[1][1].item<double>()) / 2 -
                          0.5 * (d0[1].item<double>() + d1[1].item<double>()) / 2;
  CHECK(value == doctest::Approx(expected).epsilon(1e-5));

  // Disease logits of the other species' leaves do not matter; the own species' do.
  xp::ModelOutput other = out;
  other.aux["disease"] = out.aux["disease"].clone();
  other.aux["disease"][0].slice(0, 2, 5) += 7.0;
  other.aux["disease"][1].slice(0, 0, 2) -= 9.0;
  CHECK(loss->forward(other, batch).item<double>() == doctest::Approx(value).epsilon(1e-6));
  other.aux["disease"][1][4] += 2.0;
  CHECK(loss->forward(other, batch).item<double>() != doctest::Approx(value).epsilon(1e-3));

  // One-hot soft targets (mixup with lambda = 1) give the hard-target loss; mixed ones stay finite.
  xp::Batch soft = batch;
  soft.soft_target = torch::one_hot(batch.target, 5).to(torch::kFloat32);
  CHECK(loss->forward(out, soft).item<double>() == doctest::Approx(value).epsilon(1e-5));
  soft.soft_target = 0.6 * soft.soft_target + 0.4 * torch::one_hot(torch::tensor(std::vector<int64_t>{3, 0}), 5);
  CHECK(std::isfinite(loss->forward(out, soft).item<double>()));

  // A flat model's leaf logits: species = group marginal, disease = within-group softmax. The
  // hierarchical model's joint gives the same loss as its heads.
  auto flat = make_h<xp::Loss>("hierarchical", {{"class_groups", ints(kGroups)}, {"lambda", 0.5}});
  xp::ModelOutput joint;
  auto groups = torch::tensor(kGroups);
  joint.logits = torch::log_softmax(out.aux["species"], 1).index_select(1, groups) + out.aux["disease"];
  for (int64_t g = 0; g < 2; ++g) {
    auto cols = (groups == g).nonzero().flatten();
    auto lse = out.aux["disease"].index_select(1, cols).logsumexp(1, true);
    joint.logits.index_put_({torch::indexing::Slice(), cols}, joint.logits.index_select(1, cols) - lse);
  }
  CHECK(flat->forward(joint, batch).item<double>() == doctest::Approx(value).epsilon(1e-5));

  // Focal terms run on the masked logits without NaN; smoothing the disease term is refused.
  auto focal = make_h<xp::Loss>("hierarchical", {{"class_groups", ints(kGroups)},
                                                 {"species_loss", nested("loss", "focal")},
                                                 {"disease_loss", nested("loss", "focal", {{"gamma", 1.0}})}});
  CHECK(std::isfinite(focal->forward(out, batch).item<double>()));
  CHECK(std::isfinite(focal->forward(out, soft).item<double>()));
  CHECK_THROWS_WITH_AS(make_h<xp::Loss>("hierarchical", {{"class_groups", ints(kGroups)},
                                                         {"disease_loss", nested("loss", "cross_entropy",
                                                                                 {{"label_smoothing", 0.1}})}}),
                       doctest::Contains("label_smoothing"), xp::ConfigError);
  // Gradients reach only the true species' disease logits.
  xp::ModelOutput g = out;
  g.aux["disease"] = out.aux["disease"].clone().requires_grad_(true);
  loss->forward(g, batch).backward();
  auto grad = g.aux["disease"].grad();
  CHECK(grad[0].slice(0, 2, 5).abs().sum().item<double>() == 0.0);
  CHECK(grad[1].slice(0, 0, 2).abs().sum().item<double>() == 0.0);
  CHECK(grad[1].slice(0, 2, 5).abs().sum().item<double>() > 0.0);
}

TEST_CASE("metric hierarchical: species, routed disease, macro-F1 and cascade on hand-made outputs") {
  auto metric = make_h<xp::Metric>("hierarchical", {{"class_groups", ints(kGroups)}, {"k", 2}});
  // Rows are leaf probabilities; the comments say what each sample tests.
  auto feed = [&](std::vector<std::vector<float>> probs, std::vector<int64_t> targets) {
    xp::ModelOutput out;
    std::vector<float> flat;
    for (auto& row : probs) flat.insert(flat.end(), row.begin(), row.end());
    out.logits = torch::tensor(flat).view({static_cast<int64_t>(probs.size()), 5}).log();
    xp::Batch b;
    b.target = torch::tensor(targets);
    metric->update(out, b);
  };
  metric->reset();
  feed({{.5f, .1f, .4f / 3, .4f / 3, .4f / 3},  // t0: all right
        {.2f, .1f, .5f, .1f, .1f},              // t1: species wrong, routed disease 0 wrong, cascade wrong
        {.4f, .0f, .15f, .25f, .2f}},           // t3: species right (0.6), routed 3 right, cascade right
       {0, 1, 3});
  feed({{.3f, .3f, .1f, .1f, .2f},     // t4: species wrong, routed 4 right, cascade wrong
        {.3f, .3f, .05f, .15f, .2f}},  // t2: species wrong, routed 4 wrong (top-2 4, 3: miss)
       {4, 2});
  auto r = metric->compute();
  CHECK(r.at("species_top1") == doctest::Approx(2.0 / 5));
  CHECK(r.at("species_top2") == doctest::Approx(1.0));
  CHECK(r.at("disease_top1") == doctest::Approx(3.0 / 5));
  CHECK(r.at("disease_top2") == doctest::Approx(4.0 / 5));
  CHECK(r.at("cascade_top1") == doctest::Approx(2.0 / 5));
  // Routed predictions 0 0 3 4 4 for targets 0 1 3 4 2: F1 2/3, 0, 0, 1, 2/3.
  CHECK(r.at("disease_f1_macro") == doctest::Approx((2.0 / 3 + 1.0 + 2.0 / 3) / 5));
  metric->reset();
  CHECK(metric->compute().at("cascade_top1") == 0.0);
}

TEST_CASE("dataset synthetic_leaves: deterministic, labelled, 14 'species/disease' classes") {
  auto ds = make_h<xp::Dataset>("synthetic_leaves", {{"train_size", 300}, {"image_size", 48}});
  xp::DatasetInfo info = ds->info();
  CHECK(info.num_classes == 14);
  CHECK(info.class_names.front() == "birch/blight");
  CHECK(info.class_names.back() == "willow/rust");
  CHECK((xp::engine::class_groups_from_names(info.class_names) ==
         std::vector<int64_t>{0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3}));
  auto train = ds->split("train");
  CHECK(train->size() == 300);
  CHECK(ds->split("test")->size() == 400);
  std::set<int64_t> seen;
  for (size_t i = 0; i < train->size(); ++i) seen.insert(train->label(i));
  CHECK(seen.size() == 14);
  xp::Sample a = train->load(7);
  CHECK(a.label == train->label(7));
  CHECK(a.image.type() == CV_8UC3);
  CHECK(a.image.rows == 48);
  // Same seed: the same pixels; another seed or another split: other images.
  auto again = make_h<xp::Dataset>("synthetic_leaves", {{"train_size", 300}, {"image_size", 48}});
  CHECK(cv::norm(a.image, again->split("train")->load(7).image, cv::NORM_L1) == 0.0);
  auto other = make_h<xp::Dataset>("synthetic_leaves", {{"seed", 1}, {"image_size", 48}});
  CHECK(cv::norm(a.image, other->split("train")->load(7).image, cv::NORM_L1) > 0.0);
  CHECK(cv::norm(a.image, ds->split("val")->load(7).image, cv::NORM_L1) > 0.0);
  // Not a blank canvas: the leaf and the background differ.
  cv::Scalar mean, stddev;
  cv::meanStdDev(a.image, mean, stddev);
  CHECK(stddev[1] > 10.0);
  CHECK_THROWS_WITH_AS(make_h<xp::Dataset>("synthetic_leaves", {{"val_size", 0}})->split("val"),
                       doctest::Contains("size 0"), xp::ConfigError);
}

TEST_CASE("image_folder depth = 2 and csv_images group_column: classes 'group/class'") {
  TempDir tmp;
  // "ash-tree" sorts before "ash/" as a string: classes must still come group by group.
  for (const char* c : {"ash/healthy", "ash/rust", "ash-tree/spots"})
    for (int i = 0; i < 2; ++i) write_png(tmp.path / "train" / c / ("i" + std::to_string(i) + ".png"), 40 * i);
  write_png(tmp.path / "val" / "ash" / "rust" / "v.png", 9);
  auto ds = make_h<xp::Dataset>("image_folder", {{"root", tmp.path.string()}, {"depth", 2}, {"test_fraction", 0.0}});
  CHECK((ds->info().class_names == std::vector<std::string>{"ash/healthy", "ash/rust", "ash-tree/spots"}));
  auto train = ds->split("train");
  CHECK(train->size() == 6);
  CHECK(train->label(5) == 2);
  CHECK(ds->split("val")->size() == 1);
  CHECK(ds->split("val")->label(0) == 1);
  CHECK((xp::engine::class_groups_from_names(ds->info().class_names) == std::vector<int64_t>{0, 0, 1}));
  // Depth 1 on the same folder sees the groups as classes.
  auto flat = make_h<xp::Dataset>("image_folder", {{"root", tmp.path.string()}, {"test_fraction", 0.0}});
  CHECK((flat->info().class_names == std::vector<std::string>{"ash", "ash-tree"}));
  write_png(tmp.path / "train" / "elm" / "loose.png", 3);  // a group folder without class folders
  CHECK_THROWS_WITH_AS(make_h<xp::Dataset>("image_folder", {{"root", tmp.path.string()}, {"depth", 2}}),
                       doctest::Contains("has no class folders"), xp::ConfigError);

  std::ofstream(tmp.path / "train.csv") << "file,species,disease\n"
                                        << "train/ash/rust/i0.png,ash,rust\n"
                                        << "train/ash/healthy/i0.png,ash,healthy\n"
                                        << "train/ash-tree/spots/i1.png,ash-tree,spots\n";
  std::ofstream(tmp.path / "test.csv") << "file,species,disease\nval/ash/rust/v.png,ash,rust\n";
  auto csv = make_h<xp::Dataset>("csv_images", {{"train_csv", (tmp.path / "train.csv").string()},
                                                {"test_csv", (tmp.path / "test.csv").string()},
                                                {"path_column", "file"}, {"label_column", "disease"},
                                                {"group_column", "species"}});
  CHECK((csv->info().class_names == std::vector<std::string>{"ash-tree/spots", "ash/healthy", "ash/rust"}));
  CHECK(csv->split("train")->label(0) == 2);
  CHECK(csv->split("test")->label(0) == 2);
  CHECK(csv->split("train")->load(2).label == 0);
  CHECK((xp::engine::class_groups_from_names(csv->info().class_names) == std::vector<int64_t>{0, 1, 1}));
  std::ofstream(tmp.path / "bad.csv") << "file,species,disease\ntrain/ash/rust/i0.png,,rust\n";
  CHECK_THROWS_WITH_AS(make_h<xp::Dataset>("csv_images", {{"train_csv", (tmp.path / "bad.csv").string()},
                                                          {"path_column", "file"}, {"label_column", "disease"},
                                                          {"group_column", "species"}}),
                       doctest::Contains("bad.csv:2: csv_images: empty group"), xp::ConfigError);
}
