#pragma once
// The typed parameter schema a plugin declares next to its code. The host validates every
// experiment against it before constructing anything, and `xp plugins show` prints it.
//
//   static xp::Schema schema() {
//     return xp::Schema("Focal loss (Lin et al. 2017)")
//         .add_float("gamma", 2.0, "focusing exponent").range(0.0, 10.0)
//         .add_float("alpha", 0.25, "weight of the positive class").range(0.0, 1.0)
//         .add_string("reduction", "mean", "how to reduce").choices({"mean", "sum"});
//   }
//
// Every number is checked once, here, for all plugins: NaN and +-inf are refused for every Int,
// Float and list element (a learning rate of `nan` parses as TOML but can only corrupt a run),
// unless the parameter says .allow_nonfinite() (e.g. a clipping bound where `inf` means "none").
// A string parameter whose choices include "on" and "off" (a switch with "auto") also accepts
// `true` and `false` for them.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "xp/value.h"

namespace xp {

enum class ParamType {
  Bool,
  Int,
  Float,
  String,
  IntList,
  FloatList,
  StringList,
  Table,       // free-form table, validated by the plugin itself
  Plugin,      // a nested plugin table: { plugin = "name", ... } of kind `plugin_kind`
  PluginList,  // an array of nested plugin tables of kind `plugin_kind`
  Section,     // a nested table validated against `section` (e.g. train.optimizer)
  SectionList, // an array of tables each validated against `section` (e.g. train.stages)
};

class Schema;

const char* param_type_name(ParamType t);

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::Float;
  Value default_value;  // None when required
  bool required = false;
  std::optional<double> min, max;  // inclusive range for Int/Float and every element of lists
  bool finite = true;              // NaN and +-inf refused (Schema::allow_nonfinite() lifts it)
  std::vector<Value> choices;      // allowed values (empty = any)
  std::string plugin_kind;         // for Plugin / PluginList
  std::shared_ptr<const Schema> section;  // for Section / SectionList
  std::string doc;

  // Why the number `v` is not an allowed value of this parameter (or of one element of a list
  // parameter): "is not a finite number", "is out of range [0, 1]"; empty when it is allowed.
  std::string number_problem(double v) const;
  // "[0, 1]", "[0, inf]": the inclusive range, for messages and `xp plugins show`.
  std::string range_text() const;
};

class Schema {
 public:
  Schema() = default;
  explicit Schema(std::string doc) : doc_(std::move(doc)) {}

  Schema& add_bool(const std::string& name, bool def, const std::string& doc);
  Schema& add_int(const std::string& name, int64_t def, const std::string& doc);
  Schema& add_float(const std::string& name, double def, const std::string& doc);
  Schema& add_string(const std::string& name, const std::string& def, const std::string& doc);
  Schema& add_ints(const std::string& name, std::vector<int64_t> def, const std::string& doc);
  Schema& add_floats(const std::string& name, std::vector<double> def, const std::string& doc);
  Schema& add_strings(const std::string& name, std::vector<std::string> def, const std::string& doc);
  Schema& add_table(const std::string& name, const std::string& doc);
  Schema& add_plugin(const std::string& name, const std::string& kind, const std::string& doc);
  Schema& add_plugins(const std::string& name, const std::string& kind, const std::string& doc);
  // Nested tables with their own schema; a Section's defaults are filled in even when absent.
  Schema& add_section(const std::string& name, Schema section, const std::string& doc);
  Schema& add_sections(const std::string& name, Schema section, const std::string& doc);
  // Declares a parameter with no default that the experiment must set.
  Schema& add_required(const std::string& name, ParamType type, const std::string& doc);

  // Modifiers of the parameter added last.
  Schema& range(double lo, double hi);
  Schema& min(double lo);
  Schema& max(double hi);
  Schema& choices(std::vector<Value> allowed);
  Schema& optional();  // no default, may be absent (Params::has() tells)
  Schema& allow_nonfinite();  // accept nan/inf (the range, when set, still applies to inf)

  // Metric plugins: the names compute() reports, glob patterns allowed ("top*", "f1_class_*").
  // `xp validate` checks the monitors of [train] (checkpoint, early stopping, console) against
  // them before anything trains; a metric that declares none is not checked.
  Schema& outputs(std::vector<std::string> names) {
    outputs_ = std::move(names);
    return *this;
  }
  const std::vector<std::string>& output_names() const { return outputs_; }

  // The tasks the plugin is for, from known_tasks(): for a dataset, the tasks its data can be; for
  // every other plugin, the tasks whose data it accepts. `xp validate` reports a plugin whose tasks
  // share none with the dataset's, at the plugin's table, before anything is built:
  //   .tasks({"segmentation"})                     // dice, unet, pixel, rare_blobs
  //   .tasks({"classification"})                   // focal, mixup, top1
  //   .tasks({"classification", "segmentation"})   // cutmix
  // "hierarchical" is classification whose classes come in groups ("species/disease"): a dataset
  // that may produce it also feeds every classification plugin. A plugin that declares none (the
  // default) is not checked; the dry build still is.
  Schema& tasks(std::vector<std::string> names) {
    tasks_ = std::move(names);
    return *this;
  }
  const std::vector<std::string>& task_names() const { return tasks_; }

  const std::string& doc() const { return doc_; }
  const std::vector<ParamSpec>& params() const { return params_; }
  const ParamSpec* find(const std::string& name) const;
  bool has(const std::string& name) const { return find(name) != nullptr; }

 private:
  Schema& add(ParamSpec spec);
  ParamSpec& last();
  std::string doc_;
  std::vector<ParamSpec> params_;
  std::vector<std::string> outputs_;
  std::vector<std::string> tasks_;
};

// "classification", "segmentation", "hierarchical": the names Schema::tasks() may use (the plugin
// registry refuses a plugin that declares another).
const std::vector<std::string>& known_tasks();

}  // namespace xp
