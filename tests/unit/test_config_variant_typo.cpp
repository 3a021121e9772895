// A misspelt key inside [variants.NAME] is one error, reported where it is written (issue #25: it
// was also reported a second time as an unknown top-level table of the merged run).
#include "test_config_support.h"

using xp::ExperimentOptions;
using xp::test::resolve_error;
using xp::test::ScratchDir;

namespace {
size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("variant typo: one error per mistake, none repeated as an unknown top-level table") {
  ScratchDir dir;
  auto f = dir.write("v.toml", R"([loss]
plugin = "test_constant"
[variants.a]
lss = { value = 2.0 }
[variants.b]
loss = { valu = 3.0 }
[variants.c.trian]
epochs = 2
)");
  const std::string e = resolve_error(f);
  CHECK(e.find("v.toml:4:1: variant 'a' cannot set 'lss'; did you mean 'loss'?") != std::string::npos);
  CHECK(e.find("v.toml:7:13: variant 'c' cannot set 'trian'; did you mean 'train'?") != std::string::npos);
  CHECK(e.find("unknown parameter 'valu' for loss 'test_constant'") != std::string::npos);
  CHECK(e.find("(variant b)") != std::string::npos);
  CHECK(count(e, "top-level") == 0);
  CHECK(count(e, "\nerror: ") == 2);  // three errors: main() prints the first "error: "
  CHECK(e.substr(e.size() - 9) == "\n3 errors");
}

TEST_CASE("variant typo: a --set of an unknown top-level table is one error at the --set") {
  ScratchDir dir;
  auto f = dir.write("v.toml", "[loss]\nplugin = \"test_constant\"\n[variants.a]\n[variants.b]\n");
  ExperimentOptions o;
  o.sets = {"lss.value=2"};
  std::string e = resolve_error(f, o);
  CHECK(e == "--set lss.value=2: unknown top-level table 'lss'; did you mean 'loss'?");
  o.sets = {"variants.a.lss.value=2"};
  e = resolve_error(f, o);
  CHECK(e == "--set variants.a.lss.value=2: unknown top-level table 'lss'; did you mean 'loss'?");
  o.sets = {"variants.a.plugins.paths=[]"};
  e = resolve_error(f, o);
  CHECK(e.find("--set cannot change [plugins]") != std::string::npos);
}
