// Shared by the test_seg_*.cpp files: loads the segmentation plugin library once and builds
// plugins with every schema parameter filled from its default, as the host's validator would.
#include "plugin_loader.h"
#include "xp/plugin.h"
// After the torch headers: glog (pulled in by c10) defines its own CHECK.
#include <doctest/doctest.h>

namespace seg_test {

void load_segmentation_plugins() {
  static bool loaded = [] {
    static xp::PluginLoader loader(xp::PluginRegistry::instance());
    loader.load_library(XP_BINARY_DIR "/plugins/xp_segmentation.so");
    return true;
  }();
  (void)loaded;
}

xp::Params params(const std::string& kind, const std::string& name, const xp::Value::Table& overrides) {
  load_segmentation_plugins();
  const auto& entry = xp::PluginRegistry::instance().get(kind, name);
  xp::Value::Table values;
  for (const auto& spec : entry.schema.params())
    if (!spec.default_value.is_none()) values[spec.name] = spec.default_value;
  for (const auto& [key, value] : overrides) {
    REQUIRE_MESSAGE(entry.schema.has(key), kind << " '" << name << "' has no parameter '" << key << "'");
    values[key] = value;
  }
  return xp::Params(name, values, "test");
}

// A nested plugin table as the validator hands it over: { plugin = name, every default... }.
xp::Value plugin_table(const std::string& kind, const std::string& name, const xp::Value::Table& overrides) {
  xp::Value::Table t = params(kind, name, overrides).values();
  t["plugin"] = name;
  return xp::Value(t);
}

}  // namespace seg_test

TEST_CASE("seg: the plugin library registers every segmentation plugin") {
  seg_test::load_segmentation_plugins();
  auto& r = xp::PluginRegistry::instance();
  for (auto name : {"bce", "binary_focal", "dice", "tversky", "focal_tversky", "class_balanced_bce", "compound"})
    CHECK_MESSAGE(r.find("loss", name) != nullptr, name);
  for (auto name : {"unet", "unet_plus_plus"}) CHECK_MESSAGE(r.find("model", name) != nullptr, name);
  for (auto name : {"rare_blobs", "segmentation_folder"}) CHECK_MESSAGE(r.find("dataset", name) != nullptr, name);
  for (auto name : {"balanced", "curriculum"}) CHECK_MESSAGE(r.find("sampler", name) != nullptr, name);
  for (auto name : {"pixel", "object", "pr_auc"}) CHECK_MESSAGE(r.find("metric", name) != nullptr, name);
}
