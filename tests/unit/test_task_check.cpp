// Static task compatibility (issue #25): plugins declare the tasks they accept and datasets the
// tasks they produce (Schema::tasks); resolving an experiment reports a plugin that does not fit
// its dataset at the plugin's table, before anything is built.
#include "config/task_check.h"
#include "test_config_support.h"
#include "xp/dataset.h"
#include "xp/loss.h"
#include "xp/metric.h"
#include "xp/model.h"
#include "xp/augmentation.h"

using xp::config::tasks_compatible;
using xp::test::resolve_error;
using xp::test::ScratchDir;

namespace {

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

// Schema-only plugins: resolving never constructs them.
void add_entry(const std::string& kind, const std::string& name, std::vector<std::string> tasks) {
  auto& registry = xp::PluginRegistry::instance();
  if (registry.find(kind, name)) return;
  xp::PluginEntry e;
  e.kind = kind;
  e.name = name;
  e.schema = xp::Schema("test plugin").tasks(std::move(tasks));
  e.library = "test_task_check";
  registry.add(std::move(e));
}

void register_task_plugins() {
  xp::test::test_loader();
  add_entry(xp::Dataset::kKind, "tt_masks", {"segmentation"});
  add_entry(xp::Dataset::kKind, "tt_leaves", {"hierarchical"});
  add_entry(xp::Dataset::kKind, "tt_any_data", {});
  add_entry(xp::Model::kKind, "tt_dense_model", {"segmentation"});
  add_entry(xp::Model::kKind, "tt_class_model", {"classification"});
  add_entry(xp::Loss::kKind, "tt_class_loss", {"classification"});
  add_entry(xp::Loss::kKind, "tt_any_loss", {});
  add_entry(xp::Metric::kKind, "tt_class_metric", {"classification"});
  add_entry(xp::Metric::kKind, "tt_mask_metric", {"segmentation"});
  add_entry(xp::BatchAugmentation::kKind, "tt_mix", {"classification"});
  add_entry(xp::BatchAugmentation::kKind, "tt_paste", {"classification", "segmentation"});
}

}  // namespace

TEST_CASE("tasks: compatibility of declared tasks") {
  CHECK(tasks_compatible({}, {"segmentation"}));  // undeclared plugin: not checked
  CHECK(tasks_compatible({"classification"}, {}));  // undeclared dataset: not checked
  CHECK(tasks_compatible({"segmentation"}, {"segmentation"}));
  CHECK_FALSE(tasks_compatible({"classification"}, {"segmentation"}));
  CHECK_FALSE(tasks_compatible({"segmentation"}, {"classification"}));
  CHECK(tasks_compatible({"classification", "segmentation"}, {"segmentation"}));
  // Hierarchical data is classification data with grouped classes, not the other way round.
  CHECK(tasks_compatible({"classification"}, {"hierarchical"}));
  CHECK(tasks_compatible({"hierarchical"}, {"classification", "hierarchical"}));
  CHECK_FALSE(tasks_compatible({"hierarchical"}, {"classification"}));
  CHECK_FALSE(tasks_compatible({"hierarchical"}, {"segmentation"}));
}

TEST_CASE("tasks: each plugin that does not fit the dataset is an error at its table, naming both tasks") {
  register_task_plugins();
  ScratchDir dir;
  auto f = dir.write("t.toml", R"([data]
plugin = "tt_masks"
[model]
plugin = "tt_dense_model"
[loss]
plugin = "tt_class_loss"
[[batch_augment]]
plugin = "tt_paste"
[[batch_augment]]
plugin = "tt_mix"
[[metrics]]
plugin = "tt_mask_metric"
[[metrics]]
plugin = "tt_class_metric"
)");
  const std::string e = resolve_error(f);
  const std::string data = f.string() + ":1:1";
  CHECK(e.find(f.string() + ":5:1: loss 'tt_class_loss' takes classification data, but dataset 'tt_masks' (" + data +
               ") is segmentation; xp plugins list --kind loss --task segmentation lists the ones that fit") !=
        std::string::npos);
  CHECK(e.find(f.string() + ":9:1: batch_augment[1] 'tt_mix' takes classification data") != std::string::npos);
  CHECK(e.find(f.string() + ":13:1: metrics[1] 'tt_class_metric' takes classification data") != std::string::npos);
  CHECK(count(e, "takes ") == 3);  // the model, tt_paste and tt_mask_metric fit
  CHECK(e.find("3 errors") != std::string::npos);
}

TEST_CASE("tasks: undeclared plugins and datasets are not checked; hierarchical data feeds classification") {
  register_task_plugins();
  ScratchDir dir;
  auto any = dir.write("any.toml",
                       "[data]\nplugin = \"tt_any_data\"\n[model]\nplugin = \"tt_dense_model\"\n[loss]\n"
                       "plugin = \"tt_class_loss\"\n");
  CHECK(resolve_error(any) == "");
  auto undeclared = dir.write("u.toml",
                              "[data]\nplugin = \"tt_masks\"\n[model]\nplugin = \"tt_dense_model\"\n[loss]\n"
                              "plugin = \"tt_any_loss\"\n");
  CHECK(resolve_error(undeclared) == "");
  auto leaves = dir.write("h.toml",
                          "[data]\nplugin = \"tt_leaves\"\n[model]\nplugin = \"tt_class_model\"\n[loss]\n"
                          "plugin = \"tt_class_loss\"\n[[batch_augment]]\nplugin = \"tt_mix\"\n");
  CHECK(resolve_error(leaves) == "");
  // A U-Net on leaves: the model is the one error.
  auto dense = dir.write("d.toml",
                         "[data]\nplugin = \"tt_leaves\"\n[model]\nplugin = \"tt_dense_model\"\n[loss]\n"
                         "plugin = \"tt_class_loss\"\n");
  const std::string e = resolve_error(dense);
  CHECK(e.find("d.toml:3:1: model 'tt_dense_model' takes segmentation data, but dataset 'tt_leaves'") !=
        std::string::npos);
  CHECK(count(e, "takes ") == 1);
}

TEST_CASE("tasks: a mismatch in one variant names the variant") {
  register_task_plugins();
  ScratchDir dir;
  auto f = dir.write("v.toml", R"([data]
plugin = "tt_masks"
[model]
plugin = "tt_dense_model"
[loss]
plugin = "tt_any_loss"
[variants.any]
[variants.mixed]
batch_augment = [{ plugin = "tt_mix" }]
)");
  const std::string e = resolve_error(f);
  CHECK(e.find("batch_augment[0] 'tt_mix' takes classification data") != std::string::npos);
  CHECK(e.find("(variant mixed)") != std::string::npos);
  CHECK(count(e, "takes ") == 1);
}

TEST_CASE("tasks: the registry refuses a plugin that declares an unknown task") {
  xp::PluginEntry e;
  e.kind = xp::Loss::kKind;
  e.name = "tt_typo_task";
  e.schema = xp::Schema("test").tasks({"segmentaton"});
  e.library = "test_task_check";
  try {
    xp::PluginRegistry::instance().add(std::move(e));
    FAIL("no error");
  } catch (const xp::PluginLoadError& err) {
    const std::string m = err.what();
    CHECK(m.find("loss 'tt_typo_task' from test_task_check declares the unknown task 'segmentaton'") !=
          std::string::npos);
    CHECK(m.find("did you mean 'segmentation'?") != std::string::npos);
  }
  CHECK(xp::PluginRegistry::instance().find(xp::Loss::kKind, "tt_typo_task") == nullptr);
}
