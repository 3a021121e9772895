// Single-thread throughput of every xp augmentation on 256x256 RGB uint8, plus the `medium`
// tier preset. Prints one JSON object per line: {"name": ..., "images_per_s": ...}, where the
// seconds are this thread's CPU time: images per second of one core, robust to a busy machine.
// Built and run by run.sh (not part of the default build).
#include <ctime>
#include <cstdio>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <toml++/toml.h>

#include "plugin_loader.h"
#include "xp/plugin.h"

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

std::shared_ptr<xp::Augmentation> make(const std::string& name, xp::Value::Table overrides) {
  const auto& entry = xp::PluginRegistry::instance().get("augmentation", name);
  xp::Value::Table values;
  for (const auto& spec : entry.schema.params())
    if (!spec.default_value.is_none()) values[spec.name] = spec.default_value;
  for (auto& [k, v] : overrides) values[k] = v;
  return xp::build_augmentation(xp::Params(name, values));
}

double thread_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double images_per_second(const std::vector<std::shared_ptr<xp::Augmentation>>& chain, const cv::Mat& src,
                         double seconds) {
  double best = 0;
  for (int repeat = 0; repeat < 3; ++repeat) {
    int64_t n = 0;
    const double start = thread_seconds();
    double elapsed = 0;
    while (elapsed < seconds / 3) {
      for (int k = 0; k < 20; ++k, ++n) {
        xp::Sample s;
        s.image = src;  // shares pixels: transforms must not write into their input
        auto rng = xp::Rng::for_sample(1, 0, n);
        for (const auto& a : chain) a->apply(s, rng);
      }
      elapsed = thread_seconds() - start;
    }
    best = std::max(best, n / elapsed);
  }
  return best;
}

xp::Value ints(std::vector<int64_t> v) { return xp::Value(xp::Value::List(v.begin(), v.end())); }
xp::Value floats(std::vector<double> v) { return xp::Value(xp::Value::List(v.begin(), v.end())); }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <xp_augment.so> <medium.toml> [seconds per case]\n", argv[0]);
    return 2;
  }
  cv::setNumThreads(1);
  xp::PluginLoader loader;
  loader.load_library(argv[1]);
  const double seconds = argc > 3 ? std::stod(argv[3]) : 0.6;

  cv::Mat src(256, 256, CV_8UC3);
  cv::RNG fill(42);  // test image content only; transforms draw from xp::Rng
  fill.fill(src, cv::RNG::UNIFORM, 0, 256);

  // Parameters mirror the torchvision calls in bench_torchvision.py.
  std::vector<std::pair<std::string, std::pair<std::string, xp::Value::Table>>> cases = {
      {"random_resized_crop", {"random_resized_crop", {{"size", ints({224, 224})}}}},
      {"resize", {"resize", {{"size", ints({224, 224})}}}},
      {"center_crop", {"center_crop", {{"size", ints({224, 224})}}}},
      {"random_crop", {"random_crop", {{"size", ints({224, 224})}, {"padding", 4}}}},
      {"pad", {"pad", {{"amount", ints({16})}}}},
      {"hflip", {"hflip", {{"p", 1.0}}}},
      {"vflip", {"vflip", {{"p", 1.0}}}},
      {"rotate90", {"rotate90", {{"turns", ints({1})}}}},
      {"rotate", {"rotate", {{"limit", 45.0}}}},
      {"affine", {"affine", {{"degrees", floats({-20, 20})}, {"translate", floats({0.1, 0.1})},
                             {"scale", floats({0.9, 1.1})}, {"shear", floats({-10, 10})}}}},
      {"shift_scale_rotate", {"shift_scale_rotate", {}}},
      {"elastic", {"elastic", {{"alpha", 50.0}, {"sigma", 5.0}, {"border_mode", "constant"}}}},
      {"color_jitter", {"color_jitter", {{"brightness", 0.3}, {"contrast", 0.3}, {"saturation", 0.3}, {"hue", 0.1}}}},
      {"brightness_contrast", {"brightness_contrast", {}}},
      {"hue_saturation_value", {"hue_saturation_value", {}}},
      {"gamma", {"gamma", {}}},
      {"clahe", {"clahe", {}}},
      {"gaussian_blur", {"gaussian_blur", {{"blur_limit", ints({5, 5})}}}},
      {"motion_blur", {"motion_blur", {}}},
      {"gaussian_noise", {"gaussian_noise", {}}},
      {"iso_noise", {"iso_noise", {}}},
      {"image_compression", {"image_compression", {{"quality_range", ints({75, 75})}}}},
      {"random_shadow", {"random_shadow", {}}},
      {"to_gray", {"to_gray", {}}},
      {"coarse_dropout", {"coarse_dropout", {{"num_holes", ints({1, 1})}, {"hole_height", floats({0.1, 0.4})},
                                             {"hole_width", floats({0.1, 0.4})}}}},
      {"normalize", {"normalize", {}}},
      {"rand_augment", {"rand_augment", {}}},
      {"trivial_augment", {"trivial_augment", {}}},
  };
  for (auto& [label, spec] : cases) {
    auto rate = images_per_second({make(spec.first, spec.second)}, src, seconds);
    std::printf("{\"name\": \"%s\", \"images_per_s\": %.1f}\n", label.c_str(), rate);
    std::fflush(stdout);
  }

  auto doc = toml::parse_file(argv[2]);
  std::vector<std::shared_ptr<xp::Augmentation>> chain;
  for (const auto& entry : *doc["augment"].as_array()) {
    auto table = to_value(entry).as_table();
    std::string name = table.at("plugin").as_string();
    table.erase("plugin");
    chain.push_back(make(name, table));
  }
  std::printf("{\"name\": \"medium tier\", \"images_per_s\": %.1f}\n", images_per_second(chain, src, 3 * seconds));
  return 0;
}
