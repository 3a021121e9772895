// Every kind of mistake in an experiment file is a ConfigError at file:line:col, with a suggestion
// where a name was mistyped.
#include <cmath>
#include <limits>

#include "test_config_support.h"

using xp::ExperimentOptions;
using xp::test::resolve;
using xp::test::resolve_error;
using xp::test::ScratchDir;

namespace {
// "<file>:<line>:<col>: <message>" of the experiment `text`.
std::string error_of(const std::string& text, ExperimentOptions o = {}) {
  ScratchDir dir;
  auto f = dir.write("e.toml", text);
  std::string e = resolve_error(f, std::move(o));
  const std::string prefix = f.string();
  if (e.rfind(prefix, 0) == 0) e = "e.toml" + e.substr(prefix.size());
  return e;
}
}  // namespace

TEST_CASE("config errors: TOML syntax errors name the parser's position") {
  std::string e = error_of("[loss]\nplugin = \"test_constant\"\nvalue = = 2\n");
  CHECK(e.rfind("e.toml:3:", 0) == 0);
  CHECK(e.find("TOML syntax error") != std::string::npos);
  e = error_of("[loss]\nplugin = \"test_constant\n");
  CHECK(e.rfind("e.toml:2:", 0) == 0);
}

TEST_CASE("config errors: a missing file") {
  CHECK_THROWS_WITH_AS(xp::test::resolve("/nonexistent/dir/exp.toml"),
                       doctest::Contains("cannot open experiment file '/nonexistent/dir/exp.toml': no such file"),
                       xp::ConfigError);
}

TEST_CASE("config errors: unknown top-level tables and [experiment] keys suggest the right one") {
  CHECK(error_of("[los]\nplugin = \"test_constant\"\n") ==
        "e.toml:1:2: unknown top-level table 'los'; did you mean 'loss'?");
  CHECK(error_of("[experiment]\nseed = [1]\n") ==
        "e.toml:2:1: unknown [experiment] key 'seed'; did you mean 'seeds'?");
  // Errors are collected: the variant's own error comes first (the merged table repeats it).
  CHECK(error_of("[variants.a]\nlos = { value = 1.0 }\n")
            .rfind("e.toml:2:1: variant 'a' cannot set 'los'; did you mean 'loss'?", 0) == 0);
}

TEST_CASE("config errors: unknown plugin with did-you-mean, at the plugin value") {
  CHECK(error_of("[loss]\nplugin = \"test_constnat\"\n") ==
        "e.toml:2:10: unknown loss 'test_constnat'; did you mean 'test_constant'?");
  CHECK(error_of("[loss]\nplugin = \"zzz\"\n").find("unknown loss 'zzz' (xp plugins list --kind loss") !=
        std::string::npos);
  CHECK(error_of("[model]\nplugin = \"x\"\n").rfind("e.toml:2:10: unknown model 'x'", 0) == 0);
  CHECK(error_of("[loss]\nvalue = 1.0\n") ==
        "e.toml:1:1: [loss] does not say which loss to use: add plugin = \"<name>\" (xp plugins list --kind loss)");
  CHECK(error_of("[loss]\nplugin = 3\n") == "e.toml:2:10: [loss] plugin must be a string, got integer 3");
}

TEST_CASE("config errors: unknown parameter with did-you-mean, at the key") {
  CHECK(error_of("[loss]\nplugin = \"test_constant\"\nvalu = 2.0\n") ==
        "e.toml:3:1: unknown parameter 'valu' for loss 'test_constant'; did you mean 'value'?");
  CHECK(error_of("[train]\nepochz = 2\n") ==
        "e.toml:2:1: unknown parameter 'epochz' for [train]; did you mean 'epochs'?");
  CHECK(error_of("[train.optimizer]\nlearning_rate = 0.1\n").find("for [train.optimizer]") != std::string::npos);
}

TEST_CASE("config errors: wrong types; an integer is a fine float, a float is not an int") {
  CHECK(error_of("[loss]\nplugin = \"test_constant\"\nvalue = \"big\"\n") ==
        "e.toml:3:9: loss 'test_constant': 'value' must be float, got string \"big\"");
  CHECK(error_of("[train]\nepochs = 2.5\n") == "e.toml:2:10: [train]: 'epochs' must be int, got float 2.5");
  CHECK(error_of("[train]\ndrop_last = 1\n") == "e.toml:2:13: [train]: 'drop_last' must be bool, got integer 1");
  CHECK(error_of("[train]\noptimizer = 3\n") == "e.toml:2:13: [train]: 'optimizer' must be section, got integer 3");
  CHECK(error_of("[train.optimizer]\nbetas = [0.9, \"x\"]\n") ==
        "e.toml:2:15: [train.optimizer]: 'betas' must be float[], but element 1 is string \"x\"");
  CHECK(error_of("[augment]\nplugin = \"x\"\n").find("e.toml:1:1: [augment] must be an array of tables: write "
                                                     "[[augment]]") == 0);
  ScratchDir dir;
  auto f = dir.write("ok.toml", "[loss]\nplugin = \"test_constant\"\nvalue = 3\n");
  auto r = resolve(f)[0];
  CHECK(r.loss.get("value").type() == xp::Value::Type::Float);  // converted, so it hashes like 3.0
}

TEST_CASE("config errors: out of range and not one of the choices") {
  CHECK(error_of("[loss]\nplugin = \"test_constant\"\nvalue = 101.0\n") ==
        "e.toml:3:9: loss 'test_constant': 'value' = 101.0 is out of range [0.0, 100.0]");
  CHECK(error_of("[loss]\nplugin = \"test_constant\"\nvalue = -1\n") ==
        "e.toml:3:9: loss 'test_constant': 'value' = -1.0 is out of range [0.0, 100.0]");
  CHECK(error_of("[loss]\nplugin = \"test_constant\"\nmode = \"fancyy\"\n") ==
        "e.toml:3:8: loss 'test_constant': 'mode' = \"fancyy\" is not one of \"plain\", \"fancy\"; did you mean "
        "'fancy'?");
  CHECK(error_of("[train]\nepochs = 0\n") == "e.toml:2:10: [train]: 'epochs' = 0 is out of range [1, inf]");
  CHECK(error_of("[train.optimizer]\nbetas = [0.9, 1.5]\n") ==
        "e.toml:2:15: [train.optimizer]: 'betas' = 1.5 is out of range [0.0, 1.0]");
  CHECK(error_of("[[train.stages]]\nepochs = 1\n[[train.stages]]\nepochs = -2\n") ==
        "e.toml:4:10: [train.stages[1]]: 'epochs' = -2 is out of range [1, inf]");
}

TEST_CASE("config errors: nan and inf are refused for every number, with or without a range") {
  // Ranged: NaN compares false with both bounds, so a plain range check would let it through.
  CHECK(error_of("[loss]\nplugin = \"test_constant\"\nvalue = nan\n") ==
        "e.toml:3:9: loss 'test_constant': 'value' = nan is not a number (nan); it must be a finite number");
  CHECK(error_of("[train.optimizer]\nlr = inf\n") ==
        "e.toml:2:6: [train.optimizer]: 'lr' = inf is infinite; it must be a finite number in [0.0, inf]");
  CHECK(error_of("[train.optimizer]\nweight_decay = -nan\n").find("'weight_decay' = nan is not a number") !=
        std::string::npos);
  CHECK(error_of("[train.optimizer]\nbetas = [0.9, +inf]\n") ==
        "e.toml:2:15: [train.optimizer]: 'betas' = inf is infinite; it must be a finite number in [0.0, 1.0]");
  // --set values are TOML too, and land in the same check.
  ExperimentOptions o;
  o.sets = {"train.optimizer.lr=nan"};
  CHECK(error_of("[loss]\nplugin = \"test_constant\"\n", o) ==
        "--set train.optimizer.lr=nan: [train.optimizer]: 'lr' = nan is not a number (nan); it must be a finite "
        "number");
}

TEST_CASE("schema: number_problem is the one rule every plugin's numbers pass") {
  xp::Schema s;
  s.add_float("free", 0.0, "no range").add_float("p", 0.5, "probability").range(0.0, 1.0)
      .add_float("clip", 0.0, "inf = no clipping").min(0.0).allow_nonfinite();
  const auto& free = *s.find("free");
  CHECK(free.number_problem(1e300) == "");
  CHECK(free.number_problem(-std::numeric_limits<double>::infinity()) == "is infinite; it must be a finite number");
  CHECK(free.number_problem(std::nan("")) == "is not a number (nan); it must be a finite number");
  CHECK(s.find("p")->number_problem(1.0) == "");
  CHECK(s.find("p")->number_problem(1.0000001) == "is out of range [0.0, 1.0]");
  const auto& clip = *s.find("clip");
  CHECK(clip.number_problem(std::numeric_limits<double>::infinity()) == "");
  CHECK(clip.number_problem(-std::numeric_limits<double>::infinity()) == "is out of range [0.0, inf]");
}

TEST_CASE("config errors: full experiments need data, model and loss") {
  ScratchDir dir;
  auto f = dir.write("full.toml", "[loss]\nplugin = \"test_constant\"\n");
  xp::ExperimentOptions o;  // not partial
  CHECK_THROWS_WITH_AS(xp::resolve_experiment(f, o, xp::test::test_loader()),
                       doctest::Contains("full.toml:1:1: the experiment has no [data] table"), xp::ConfigError);
}

TEST_CASE("config errors: [plugins] paths are relative to the file and must exist") {
  ScratchDir dir;
  auto f = dir.write("sub/p.toml", "[plugins]\npaths = [\"../missing.so\"]\n");
  std::string e = resolve_error(f);
  CHECK(e.find("p.toml:2:10: [plugins] paths: ") != std::string::npos);
  CHECK(e.find((dir.path() / "missing.so").string() + ": no such plugin library") != std::string::npos);
  // The good test plugin, by a path relative to the experiment, loads and is recorded absolute.
  const auto so = std::filesystem::path(XP_TEST_PLUGIN_DIR) / "good" / "xp_test_good.so";
  auto rel = std::filesystem::relative(so, dir.path() / "sub");
  auto g = dir.write("sub/g.toml", "[plugins]\npaths = [\"" + rel.string() + "\"]\n[loss]\nplugin = \"test_constant\"\n");
  auto runs = resolve(g);
  REQUIRE(runs[0].plugin_paths.size() == 1);
  CHECK(std::filesystem::equivalent(runs[0].plugin_paths[0], so));
  CHECK(runs[0].canonical.find("plugins") == std::string::npos);  // where code lives is not config
}

TEST_CASE("config errors: values TOML has but experiments do not") {
  CHECK(error_of("[experiment]\nname = 1979-05-27\n").rfind("e.toml:2:8: dates and times are not supported", 0) ==
        0);
  CHECK(error_of("[experiment]\nname = \"\"\n").find("name must not be empty") != std::string::npos);
  CHECK(error_of("[experiment]\ntags = \"a\"\n") == "e.toml:2:8: [experiment] tags must be an array of strings, got "
                                                   "string");
}
