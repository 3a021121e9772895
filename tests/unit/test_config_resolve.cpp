// Experiment files: extends, variants, --set, seeds, canonical form and hash.
#include "test_config_support.h"

#include "xp/base/config_node.h"

using xp::ExperimentOptions;
using xp::test::resolve;
using xp::test::resolve_error;
using xp::test::ScratchDir;

TEST_CASE("config: a minimal experiment resolves with defaults filled in") {
  ScratchDir dir;
  auto f = dir.write("exp.toml", R"(
[experiment]
name = "minimal"
[loss]
plugin = "test_constant"
)");
  auto runs = resolve(f);
  REQUIRE(runs.size() == 1);
  const auto& r = runs[0];
  CHECK(r.experiment == "minimal");
  CHECK(r.variant == "");
  CHECK(r.seed == 0);  // seeds default to [0]
  CHECK(r.loss.plugin() == "test_constant");
  CHECK(r.loss.get_float("value") == 1.0);
  CHECK(r.loss.get_string("mode") == "plain");
  CHECK(r.loss.where() == f.string() + ":4:1");
  // [train] is absent, yet every engine option has its default, sections included.
  CHECK(r.train.get_int("epochs") == 10);
  CHECK(r.train.get_section("optimizer").get_string("name") == "adamw");
  CHECK(r.flat.at("loss.value") == "1.0");
  CHECK(r.flat.at("loss.plugin") == "test_constant");
  CHECK(r.flat.at("train.optimizer.lr") == "0.001");
  CHECK(r.flat.at("experiment.seed") == "0");
  CHECK(r.canonical.find("[loss]\nmode = \"plain\"\nplugin = \"test_constant\"\nvalue = 1.0\n") != std::string::npos);
  CHECK(r.canonical.find("__where__") == std::string::npos);
  CHECK(r.hash.size() == 64);
}

TEST_CASE("config: the experiment name defaults to the file's stem") {
  ScratchDir dir;
  auto runs = resolve(dir.write("my_study.toml", "[loss]\nplugin = \"test_constant\"\n"));
  CHECK(runs.at(0).experiment == "my_study");
}

TEST_CASE("config: extends chains, relative to each file, and the extending file wins") {
  ScratchDir dir;
  dir.write("common/root.toml", R"(
[experiment]
name = "root"
tags = ["a"]
[loss]
plugin = "test_constant"
value = 3.0
mode = "fancy"
[train]
epochs = 7
batch_size = 8
)");
  dir.write("common/base.toml", R"(
[experiment]
extends = "root.toml"
name = "base"
[train]
epochs = 9
)");
  auto f = dir.write("studies/child.toml", R"(
[experiment]
extends = "../common/base.toml"
[loss]
value = 5
)");
  auto runs = resolve(f);
  REQUIRE(runs.size() == 1);
  const auto& r = runs[0];
  CHECK(r.experiment == "base");
  CHECK(r.tags == std::vector<std::string>{"a"});
  CHECK(r.loss.get_float("value") == 5.0);        // child
  CHECK(r.loss.get_string("mode") == "fancy");    // root, through base
  CHECK(r.train.get_int("epochs") == 9);          // base over root
  CHECK(r.train.get_int("batch_size") == 8);      // root
  CHECK(r.canonical.find("extends") == std::string::npos);
  CHECK(r.flat.count("experiment.extends") == 0);
  // An error in an inherited value points at the file that has it.
  dir.write("common/root.toml", "[loss]\nplugin = \"test_constant\"\nmode = \"odd\"\n");
  CHECK(resolve_error(f).find("common/root.toml:3:8") != std::string::npos);
}

TEST_CASE("config: an extends cycle and a missing base are errors at the extends key") {
  ScratchDir dir;
  dir.write("a.toml", "[experiment]\nextends = \"b.toml\"\n");
  dir.write("b.toml", "[experiment]\nextends = \"a.toml\"\n");
  std::string e = resolve_error(dir.path() / "a.toml");
  CHECK(e.find("extends cycle: a.toml -> b.toml -> a.toml") != std::string::npos);
  CHECK(e.find("b.toml:2:11") != std::string::npos);
  auto self = dir.write("self.toml", "[experiment]\nextends = \"self.toml\"\n");
  CHECK(resolve_error(self).find("extends cycle") != std::string::npos);
  auto missing = dir.write("m.toml", "# base\n[experiment]\nextends = \"nope.toml\"\n");
  e = resolve_error(missing);
  CHECK(e.find("m.toml:3:11") != std::string::npos);
  CHECK(e.find("nope.toml") != std::string::npos);
}

TEST_CASE("config: variants merge over the base; a different plugin replaces the table") {
  ScratchDir dir;
  auto f = dir.write("v.toml", R"(
[experiment]
name = "cmp"
seeds = [1, 2]
[loss]
plugin = "test_constant"
value = 2.0
mode = "fancy"
[train]
epochs = 3
[variants.more]
loss = { value = 4.0 }
[variants.longer]
train = { epochs = 6 }
[variants.same]
)");
  auto runs = resolve(f);
  REQUIRE(runs.size() == 6);  // 3 variants x 2 seeds, variants in file order
  CHECK(runs[2].variant == "longer");
  CHECK(runs[2].seed == 1);
  CHECK(runs[3].variant == "longer");
  CHECK(runs[3].seed == 2);
  CHECK(runs[2].train.get_int("epochs") == 6);
  CHECK(runs[2].loss.get_float("value") == 2.0);
  CHECK(runs[0].variant == "more");
  CHECK(runs[0].loss.get_float("value") == 4.0);
  CHECK(runs[0].loss.get_string("mode") == "fancy");  // same plugin: merged
  CHECK(runs[0].flat.at("experiment.variant") == "more");
  CHECK(runs[4].variant == "same");
  CHECK(runs[2].hash != runs[3].hash);  // the seed is part of the config
  CHECK(runs[0].hash != runs[2].hash);

  ExperimentOptions only;
  only.variants = {"more"};
  auto one = resolve(f, only);
  REQUIRE(one.size() == 2);
  CHECK(one[0].hash == runs[0].hash);

  only.variants = {"moer"};
  std::string e = resolve_error(f, only);
  CHECK(e.find("unknown variant 'moer'; did you mean 'more'?") != std::string::npos);
  CHECK(e.find("--variant moer") != std::string::npos);
}

TEST_CASE("config: merging a table that names another plugin replaces it") {
  using xp::config::parse_toml_text;
  auto base = parse_toml_text("[loss]\nplugin = \"focal\"\ngamma = 2.0\n[train]\nepochs = 3\n", "base");
  auto other = parse_toml_text("[loss]\nplugin = \"tversky\"\nbeta = 0.7\n[train]\nbatch_size = 4\n", "v");
  auto same = parse_toml_text("[loss]\nplugin = \"focal\"\nalpha = 0.5\n", "v");
  auto replaced = base;
  xp::config::deep_merge(replaced, other);
  CHECK(replaced.find("loss")->fields.size() == 2);  // plugin, beta: no gamma from focal
  CHECK(replaced.find("loss")->find("gamma") == nullptr);
  CHECK(replaced.find("loss")->where == "v:1:1");
  CHECK(replaced.find("train")->fields.size() == 2);  // plain tables merge
  auto merged = base;
  xp::config::deep_merge(merged, same);
  CHECK(merged.find("loss")->find("gamma")->scalar.as_float() == 2.0);
  CHECK(merged.find("loss")->find("alpha")->scalar.as_float() == 0.5);
  CHECK(merged.find("loss")->find("alpha")->where == "v:3:9");
}

TEST_CASE("config: --set overrides apply after the variant, typed as TOML") {
  ScratchDir dir;
  auto f = dir.write("s.toml", R"(
[loss]
plugin = "test_constant"
[variants.a]
loss = { value = 4.0 }
)");
  ExperimentOptions o;
  o.sets = {"loss.value=1.5", "train.epochs=5", "train.optimizer.lr=1e-2", "loss.mode=fancy",
            "experiment.name=\"renamed\""};
  auto runs = resolve(f, o);
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].loss.get_float("value") == 1.5);
  CHECK(runs[0].loss.get_string("mode") == "fancy");  // unquoted: taken as a string
  CHECK(runs[0].train.get_int("epochs") == 5);
  CHECK(runs[0].train.get_section("optimizer").get_float("lr") == 0.01);
  CHECK(runs[0].experiment == "renamed");

  o.sets = {"train.epochs=2.5"};
  std::string e = resolve_error(f, o);
  CHECK(e.find("--set train.epochs=2.5: [train]: 'epochs' must be int, got float 2.5") != std::string::npos);
  o.sets = {"loss.gama=2"};
  e = resolve_error(f, o);
  CHECK(e.find("--set loss.gama=2: unknown parameter 'gama' for loss 'test_constant'") != std::string::npos);
  o.sets = {"lost.value=2"};
  CHECK(resolve_error(f, o).find("unknown top-level table 'lost'; did you mean 'loss'?") != std::string::npos);
  o.sets = {"novalue"};
  CHECK(resolve_error(f, o).find("--set expects KEY=VALUE") != std::string::npos);
}

TEST_CASE("config: --set of another plugin starts that table afresh, whatever the order") {
  ScratchDir dir;
  auto f = dir.write("p.toml", "[loss]\nplugin = \"test_constant\"\nvalue = 7.0\n");
  ExperimentOptions o;
  o.sets = {"loss.mode=fancy", "loss.plugin=test_constant"};  // same plugin: nothing is reset
  auto runs = resolve(f, o);
  CHECK(runs[0].loss.get_float("value") == 7.0);
  CHECK(runs[0].loss.get_string("mode") == "fancy");
  o.sets = {"loss.value=3", "loss.plugin=test_constnat"};
  CHECK(resolve_error(f, o).find("unknown loss 'test_constnat'") != std::string::npos);
}

TEST_CASE("config: --set reaches into arrays of tables by index") {
  ScratchDir dir;
  auto f = dir.write("a.toml", R"(
[[train.stages]]
epochs = 2
[[train.stages]]
epochs = 3
)");
  ExperimentOptions o;
  o.sets = {"train.stages.1.epochs=4"};
  auto runs = resolve(f, o);
  auto stages = runs[0].train.get_sections("stages");
  REQUIRE(stages.size() == 2);
  CHECK(stages[0].get_int("epochs") == 2);
  CHECK(stages[1].get_int("epochs") == 4);
  CHECK(runs[0].flat.at("train.stages.1.epochs") == "4");
  o.sets = {"train.stages.5.epochs=4"};
  CHECK(resolve_error(f, o).find("not an index") != std::string::npos);
}

TEST_CASE("config: seeds come from the file, --seeds replaces them, duplicates are errors") {
  ScratchDir dir;
  auto f = dir.write("seeds.toml", "[experiment]\nseeds = [42, 43, 44]\n");
  auto runs = resolve(f);
  REQUIRE(runs.size() == 3);
  CHECK(runs[2].seed == 44);
  ExperimentOptions o;
  o.seeds = std::vector<int64_t>{1, 2};
  runs = resolve(f, o);
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].seed == 1);
  CHECK(runs[1].seed == 2);
  auto dup = dir.write("dup.toml", "[experiment]\nseeds = [1, 1]\n");
  CHECK(resolve_error(dup).find("seed 1 is listed twice") != std::string::npos);
  auto bad = dir.write("bad.toml", "[experiment]\nseeds = [1, \"2\"]\n");
  CHECK(resolve_error(bad).find("bad.toml:2:13") != std::string::npos);
}

TEST_CASE("config: the hash ignores formatting, key order, comments and written defaults") {
  ScratchDir dir;
  auto a = dir.write("a.toml", R"(
[experiment]
name = "h"
[loss]
plugin = "test_constant"
value = 2
[train]
epochs = 5
optimizer = { lr = 1e-3, name = "adamw" }
)");
  auto b = dir.write("b.toml", R"(# the same, written differently
[train]
epochs = 5
  [train.optimizer]
  name = "adamw"   # the default anyway
  lr = 0.001
[loss]
value = 2.0
mode = "plain"
plugin = "test_constant"

[experiment]
name = "h"
)");
  auto ra = resolve(a), rb = resolve(b);
  CHECK(ra[0].canonical == rb[0].canonical);
  CHECK(ra[0].hash == rb[0].hash);
  auto c = dir.write("c.toml", "[experiment]\nname = \"h\"\n[loss]\nplugin = \"test_constant\"\nvalue = 2.5\n"
                               "[train]\nepochs = 5\n");
  CHECK(resolve(c)[0].hash != ra[0].hash);
  ExperimentOptions o;
  o.sets = {"loss.value=2.5"};
  CHECK(resolve(a, o)[0].hash == resolve(c)[0].hash);
}

TEST_CASE("config: canonical text is itself a valid experiment-like TOML that reads back the same") {
  ScratchDir dir;
  auto f = dir.write("c.toml", R"(
[experiment]
name = "round trip"
tags = ["x", "y z"]
[loss]
plugin = "test_constant"
[[train.stages]]
epochs = 2
freeze = ["backbone.*"]
[[train.stages]]
epochs = 1
)");
  auto r = resolve(f)[0];
  // The canonical text is TOML that reads back as exactly the resolved tree.
  CHECK(xp::config::parse_toml_text(r.canonical, "canonical").to_value() == xp::Value(r.config));
  CHECK(r.canonical.find("[[train.stages]]\nepochs = 2\nfreeze = [\"backbone.*\"]") != std::string::npos);
  CHECK(r.flat.at("experiment.tags") == "[\"x\", \"y z\"]");
  CHECK(r.flat.at("train.stages.0.freeze") == "[\"backbone.*\"]");
}
