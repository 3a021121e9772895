// Calibration of the rare_blobs defaults (docs/segmentation.md): trains a small U-Net for a few
// epochs with a plain loop and prints val/test pixel and object scores. Skipped by default (it is
// a measurement, not a check); run it with
//   xp_tests -tc='seg calibration*' --no-skip
// and XP_SEG_CAL_LOSS=binary_focal|tversky|compound, XP_SEG_CAL_EPOCHS, XP_SEG_CAL_SEED,
// XP_SEG_CAL_SIGNAL, XP_SEG_CAL_WIDTH to vary it.
#include <chrono>
#include <cstdlib>
#include <iostream>

#include <torch/torch.h>

#include "xp/plugin.h"
// After the torch headers: glog (pulled in by c10) defines its own CHECK.
#include <doctest/doctest.h>

namespace seg_test {
xp::Params params(const std::string& kind, const std::string& name, const xp::Value::Table& overrides = {});
xp::Value plugin_table(const std::string& kind, const std::string& name, const xp::Value::Table& overrides = {});
}  // namespace seg_test

namespace {

std::string env(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

xp::Batch collate(const xp::Split& split, const std::vector<int64_t>& indices) {
  std::vector<torch::Tensor> images, masks;
  for (auto i : indices) {
    auto s = split.load(static_cast<size_t>(i));
    images.push_back(torch::from_blob(s.image.data, {s.image.rows, s.image.cols, 3}, torch::kUInt8)
                         .permute({2, 0, 1}).to(torch::kFloat).div(255.0));
    masks.push_back(torch::from_blob(s.mask.data, {1, s.mask.rows, s.mask.cols}, torch::kUInt8).to(torch::kFloat));
  }
  xp::Batch b;
  b.input = torch::stack(images);
  b.target = torch::stack(masks);
  return b;
}

}  // namespace

TEST_CASE("seg calibration: small U-Net on rare_blobs" * doctest::skip()) {
  const std::string loss_name = env("XP_SEG_CAL_LOSS", "binary_focal");
  const int epochs = std::stoi(env("XP_SEG_CAL_EPOCHS", "8"));
  const int64_t seed = std::stoll(env("XP_SEG_CAL_SEED", "42"));
  const double signal = std::stod(env("XP_SEG_CAL_SIGNAL", "1.0"));
  const int64_t width = std::stoll(env("XP_SEG_CAL_WIDTH", "16"));
  torch::manual_seed(static_cast<uint64_t>(seed));
  torch::set_num_threads(2);

  auto data = xp::create<xp::Dataset>(seg_test::params("dataset", "rare_blobs", {{"signal", signal}}));
  auto train = data->split("train"), val = data->split("val"), test = data->split("test");
  auto model = xp::create<xp::Model>(seg_test::params("model", "unet", {{"base_width", width}}));
  xp::Value::Table loss_overrides;
  if (loss_name == "compound")
    loss_overrides = {{"terms", xp::Value::List{seg_test::plugin_table("loss", "binary_focal"),
                                                seg_test::plugin_table("loss", "dice")}}};
  auto loss = xp::create<xp::Loss>(seg_test::params("loss", loss_name, loss_overrides));
  auto sampler = xp::create<xp::Sampler>(seg_test::params("sampler", "balanced"));
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(3e-3));

  // Everything in memory: 400 tiles of 64x64.
  std::vector<int64_t> all(train->size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  auto start = std::chrono::steady_clock::now();
  auto evaluate = [&](const xp::Split& split) {
    torch::NoGradGuard no_grad;
    model->eval();
    auto pixel = xp::create<xp::Metric>(seg_test::params("metric", "pixel"));
    auto object = xp::create<xp::Metric>(seg_test::params("metric", "object"));
    auto ap = xp::create<xp::Metric>(seg_test::params("metric", "pr_auc"));
    for (size_t i = 0; i < split.size(); i += 50) {
      std::vector<int64_t> idx;
      for (size_t j = i; j < std::min(split.size(), i + 50); ++j) idx.push_back(static_cast<int64_t>(j));
      auto b = collate(split, idx);
      auto out = model->forward(b.input);
      pixel->update(out, b);
      object->update(out, b);
      ap->update(out, b);
    }
    model->train();
    auto r = pixel->compute();
    for (auto& [k, v] : object->compute()) r[k] = v;
    for (auto& [k, v] : ap->compute()) r[k] = v;
    return r;
  };
  for (int epoch = 0; epoch < epochs; ++epoch) {
    auto order = sampler->indices({static_cast<uint64_t>(seed), epoch, 16, train.get()});
    double total = 0;
    int steps = 0;
    for (size_t i = 0; i + 16 <= order.size(); i += 16) {
      auto b = collate(*train, {order.begin() + i, order.begin() + i + 16});
      opt.zero_grad();
      auto l = loss->forward(model->forward(b.input), b);
      l.backward();
      opt.step();
      total += l.item<double>();
      ++steps;
    }
    auto r = evaluate(*val);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "epoch " << epoch << " loss " << total / steps << " val_iou " << r["iou"] << " val_f1 " << r["f1"]
              << " obj_f1_30 " << r["obj_f1_30"] << " ap " << r["ap"] << " t " << seconds << "s" << std::endl;
  }
  auto r = evaluate(*test);
  std::cout << "test:";
  for (auto& [k, v] : r) std::cout << " " << k << "=" << v;
  std::cout << std::endl;
}
