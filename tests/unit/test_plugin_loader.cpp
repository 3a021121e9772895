#include <doctest/doctest.h>

#include "plugin_loader.h"
#include "xp/errors.h"
#include "xp/plugin.h"

namespace fs = std::filesystem;
static const fs::path kPlugins = XP_TEST_PLUGIN_DIR;

TEST_CASE("loader: a good plugin registers its entries with their library") {
  xp::PluginRegistry registry;
  xp::PluginLoader loader(registry);
  loader.load_library(kPlugins / "good" / "xp_test_good.so");
  const auto* e = registry.find("loss", "test_constant");
  REQUIRE(e != nullptr);
  CHECK(e->library.find("xp_test_good.so") != std::string::npos);
  CHECK(e->schema.find("value")->max == 100.0);
  REQUIRE(loader.libraries().size() == 1);
  CHECK(loader.libraries()[0].plugins == 2);  // test_constant and test_fp32_only
  // Loading the same file again is a no-op, not a duplicate registration.
  loader.load_library(kPlugins / "good" / "xp_test_good.so");
  CHECK(loader.libraries().size() == 1);
}

TEST_CASE("loader: a plugin built for another ABI is refused with both versions") {
  xp::PluginRegistry registry;
  xp::PluginLoader loader(registry);
  try {
    loader.load_library(kPlugins / "bad_abi" / "xp_test_bad_abi.so");
    FAIL("expected PluginLoadError");
  } catch (const xp::PluginLoadError& e) {
    std::string m = e.what();
    CHECK(m.find("xp_test_bad_abi.so") != std::string::npos);
    CHECK(m.find("plugin ABI 999") != std::string::npos);
    CHECK(m.find("this xp has " + std::to_string(XP_PLUGIN_ABI_VERSION)) != std::string::npos);
  }
  CHECK(registry.find("loss", "test_constant_other") == nullptr);
}

TEST_CASE("loader: a library that is not a plugin, and a missing file") {
  xp::PluginRegistry registry;
  xp::PluginLoader loader(registry);
  CHECK_THROWS_WITH_AS(loader.load_library(kPlugins / "not_a_plugin" / "xp_test_not_a_plugin.so"),
                       doctest::Contains("not an xp plugin"), xp::PluginLoadError);
  CHECK_THROWS_WITH_AS(loader.load_library(kPlugins / "missing.so"), doctest::Contains("no such plugin library"),
                       xp::PluginLoadError);
  // A folder scan skips bad libraries and reports them instead of failing.
  std::vector<std::string> problems;
  loader.load_directory(kPlugins / "not_a_plugin", problems);
  CHECK(problems.size() == 1);
}

TEST_CASE("registry: unknown names suggest the closest ones") {
  xp::PluginRegistry registry;
  xp::PluginLoader loader(registry);
  loader.load_library(kPlugins / "good" / "xp_test_good.so");
  CHECK_THROWS_WITH_AS(registry.get("loss", "test_constnat"), doctest::Contains("did you mean 'test_constant'"),
                       xp::ConfigError);
  CHECK(registry.list("", "test_*").size() == 2);
  CHECK(registry.list("", "test_c*").size() == 1);
  CHECK(registry.list("model").empty());
}
