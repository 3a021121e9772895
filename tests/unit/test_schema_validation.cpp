// The validator against hand-written schemas: nested plugins, sections, required and optional
// parameters, and the positions nested tables carry for Params::get_plugin()/get_section().
#include "test_config_support.h"

#include "xp/base/config_node.h"
#include "config/param_validator.h"

using xp::ConfigError;
using xp::ParamType;
using xp::Schema;
using xp::Value;
using xp::config::parse_toml_text;
using xp::config::validate_params;

namespace {

Schema composite() {
  Schema head("a head");
  head.add_int("width", 4, "units").min(1).add_strings("acts", {"relu"}, "activations").choices({"relu", "gelu"});
  return Schema("a model with nested parts")
      .add_plugin("criterion", "loss", "a nested loss")
      .add_plugins("extra", "loss", "more losses")
      .add_section("head", head, "the head")
      .add_sections("heads", head, "more heads")
      .add_required("root", ParamType::String, "data folder")
      .add_float("scale", 1.0, "optional scale").optional()
      .add_table("free", "anything");
}

Value::Table check(const std::string& text) {
  xp::test::test_loader();
  auto doc = parse_toml_text(text, "s.toml");
  return validate_params(doc, composite(), "model 'x'", {}, "x");
}

std::string error(const std::string& text) {
  try {
    check(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("schema validation: nested plugins and sections are validated and positioned") {
  auto v = check(R"(root = "/data"
criterion = { plugin = "test_constant", value = 3 }
extra = [{ plugin = "test_constant" }, { plugin = "test_constant", mode = "fancy" }]
heads = [{ width = 8 }, { acts = ["gelu", "relu"] }]
free = { anything = [1, "two"] }
)");
  xp::Params p("x", v, "s.toml:1:1");
  CHECK(p.get_string("root") == "/data");
  CHECK_FALSE(p.has("scale"));  // optional and absent
  auto crit = p.get_plugin("criterion");
  CHECK(crit.plugin() == "test_constant");
  CHECK(crit.get_float("value") == 3.0);
  CHECK(crit.get_string("mode") == "plain");
  CHECK(crit.where() == "s.toml:2:13");
  auto extra = p.get_plugins("extra");
  REQUIRE(extra.size() == 2);
  CHECK(extra[1].get_string("mode") == "fancy");
  CHECK(extra[1].where() == "s.toml:3:40");
  auto head = p.get_section("head");  // absent: its defaults
  CHECK(head.get_int("width") == 4);
  CHECK(head.get_strings("acts") == std::vector<std::string>{"relu"});
  auto heads = p.get_sections("heads");
  REQUIRE(heads.size() == 2);
  CHECK(heads[0].get_int("width") == 8);
  CHECK(heads[1].get_int("width") == 4);
  CHECK(heads[1].get_strings("acts") == std::vector<std::string>{"gelu", "relu"});
  CHECK(p.get("free").as_table().at("anything").as_list().size() == 2);
}

TEST_CASE("schema validation: errors inside nested tables") {
  const std::string ok = "root = \"r\"\ncriterion = { plugin = \"test_constant\" }\n";
  CHECK(error("criterion = { plugin = \"test_constant\" }\n") ==
        "s.toml:1:1: model 'x': missing required parameter 'root' (string: data folder)");
  CHECK(error("root = \"r\"\n") == "s.toml:1:1: model 'x': missing required parameter 'criterion' (plugin: a nested "
                                   "loss)");
  CHECK(error("root = \"r\"\ncriterion = { plugin = \"test_constant\", valeu = 1.0 }\n") ==
        "s.toml:2:41: unknown parameter 'valeu' for loss 'test_constant'; did you mean 'value'?");
  CHECK(error("root = \"r\"\ncriterion = { plugin = \"tset_constant\" }\n") ==
        "s.toml:2:24: unknown loss 'tset_constant'; did you mean 'test_constant'?");
  CHECK(error(ok + "extra = [{ plugin = \"test_constant\", value = 200.0 }]\n") ==
        "s.toml:3:46: loss 'test_constant': 'value' = 200.0 is out of range [0.0, 100.0]");
  CHECK(error(ok + "head = { widht = 2 }\n") ==
        "s.toml:3:10: unknown parameter 'widht' for [x.head]; did you mean 'width'?");
  CHECK(error(ok + "heads = [{ width = 2 }, { acts = [\"tanh\"] }]\n") ==
        "s.toml:3:35: [x.heads[1]]: 'acts' = \"tanh\" is not one of \"relu\", \"gelu\"");
  CHECK(error(ok + "criterion = 2\n").find("TOML syntax error") != std::string::npos);  // redefined key
  CHECK(error("root = \"r\"\ncriterion = \"test_constant\"\n") ==
        "s.toml:2:13: model 'x': 'criterion' must be plugin, got string \"test_constant\"");
  CHECK(error(ok + "free = 1\n") == "s.toml:3:8: model 'x': 'free' must be table, got integer 1");
}

TEST_CASE("schema validation: a plugin that takes no parameters says so") {
  Schema none("nothing to set");
  auto doc = parse_toml_text("x = 1\n", "n.toml");
  CHECK_THROWS_WITH_AS(validate_params(doc, none, "metric 'top1'"),
                       "n.toml:1:1: unknown parameter 'x' for metric 'top1' (it takes no parameters)", ConfigError);
}

TEST_CASE("schema validation: an unknown plugin of a kind nothing provides says what to check") {
  xp::PluginRegistry empty;
  auto doc = parse_toml_text("plugin = \"unet\"\n", "m.toml");
  CHECK_THROWS_WITH_AS(xp::config::validate_plugin(doc, "model", "model", empty),
                       "m.toml:1:10: unknown model 'unet' (no model plugins are loaded; check XP_PLUGIN_PATH, "
                       "--plugin-path or [plugins] paths)",
                       ConfigError);
}

TEST_CASE("schema validation: an auto/on/off switch also takes true and false") {
  Schema s("switches");
  s.add_string("layout", "auto", "a switch").choices({"auto", "on", "off"})
      .add_string("mode", "a", "not a switch").choices({"a", "on"});
  auto validate = [&](const std::string& text) {
    return validate_params(parse_toml_text(text, "w.toml"), s, "[train]");
  };
  CHECK(validate("layout = true\n").at("layout").as_string() == "on");
  CHECK(validate("layout = false\n").at("layout").as_string() == "off");
  CHECK(validate("layout = \"auto\"\n").at("layout").as_string() == "auto");
  CHECK_THROWS_WITH_AS(validate("layout = 1\n"), "w.toml:1:10: [train]: 'layout' must be string, got integer 1",
                       ConfigError);
  // Without both "on" and "off" among the choices a bool stays a type error.
  CHECK_THROWS_WITH_AS(validate("mode = true\n"), "w.toml:1:8: [train]: 'mode' must be string, got bool true",
                       ConfigError);
}
