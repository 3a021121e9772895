#include "xp/plugin_registry.h"

#include <algorithm>
#include <set>

#include "xp/base/suggest.h"
#include "xp/augmentation.h"
#include "xp/errors.h"
#include "xp/rng.h"

namespace xp {

PluginRegistry& PluginRegistry::instance() {
  static PluginRegistry registry;
  return registry;
}

void PluginRegistry::add(PluginEntry entry) {
  // Every augmentation is gated by a probability; plugins may declare their own default.
  if (entry.kind == Augmentation::kKind && !entry.schema.has("p"))
    entry.schema.add_float("p", 1.0, "probability of applying this transform").range(0.0, 1.0);
  // A misspelt task would silently switch the compatibility check off for this plugin.
  const auto& tasks = known_tasks();
  for (const auto& t : entry.schema.task_names())
    if (std::find(tasks.begin(), tasks.end(), t) == tasks.end())
      throw PluginLoadError(entry.kind + " '" + entry.name + "'" +
                            (entry.library.empty() ? std::string() : " from " + entry.library) +
                            " declares the unknown task '" + t + "'" + did_you_mean(t, tasks) +
                            " (tasks: classification, segmentation, hierarchical)");
  auto key = std::make_pair(entry.kind, entry.name);
  if (auto it = entries_.find(key); it != entries_.end()) {
    if (it->second.library == entry.library) return;  // the same library seen twice
    throw PluginLoadError(entry.kind + " '" + entry.name + "' from " + entry.library +
                          " is already registered by " +
                          (it->second.library.empty() ? std::string("the host") : it->second.library));
  }
  entries_.emplace(key, std::move(entry));
}

const PluginEntry* PluginRegistry::find(const std::string& kind, const std::string& name) const {
  auto it = entries_.find({kind, name});
  return it == entries_.end() ? nullptr : &it->second;
}

const PluginEntry& PluginRegistry::get(const std::string& kind, const std::string& name) const {
  if (const auto* e = find(kind, name)) return *e;
  auto known = names(kind);
  std::string msg = "unknown " + kind + " '" + name + "'" + did_you_mean(name, known);
  if (known.empty()) msg += " (no " + kind + " plugins are loaded; check XP_PLUGIN_PATH)";
  else if (did_you_mean(name, known).empty()) msg += "; `xp plugins list --kind " + kind + "` lists them";
  throw ConfigError(msg);
}

std::vector<const PluginEntry*> PluginRegistry::list(const std::string& kind, const std::string& pattern) const {
  std::vector<const PluginEntry*> out;
  for (const auto& [key, e] : entries_)
    if ((kind.empty() || key.first == kind) && glob_match(pattern, key.second)) out.push_back(&e);
  return out;
}

std::vector<std::string> PluginRegistry::kinds() const {
  std::set<std::string> k;
  for (const auto& [key, e] : entries_) k.insert(key.first);
  return {k.begin(), k.end()};
}

std::vector<std::string> PluginRegistry::names(const std::string& kind) const {
  std::vector<std::string> out;
  for (const auto& [key, e] : entries_)
    if (key.first == kind) out.push_back(key.second);
  return out;
}

std::shared_ptr<void> PluginRegistry::create_raw(const std::string& kind, const Params& params) const {
  const PluginEntry& e = get(kind, params.plugin());
  try {
    return e.factory(params);
  } catch (const ConfigError&) {
    throw;
  } catch (const std::exception& ex) {
    // A plugin's constructor rejecting its (schema-valid) parameters is still the user's input.
    throw ConfigError(kind + " '" + params.plugin() + "': " + ex.what(), params.where());
  }
}

namespace {
class ProbabilityGate : public Augmentation {
 public:
  ProbabilityGate(std::shared_ptr<Augmentation> inner, double p) : inner_(std::move(inner)), p_(p) {}
  void apply(Sample& sample, Rng& rng) const override {
    // The draw happens whether or not the transform fires, so later draws do not shift.
    if (rng.uniform() < p_) inner_->apply(sample, rng);
  }
  bool reads_encoded() const override { return inner_->reads_encoded(); }

 private:
  std::shared_ptr<Augmentation> inner_;
  double p_;
};
}  // namespace

std::shared_ptr<Augmentation> build_augmentation(const Params& params) {
  auto inner = create<Augmentation>(params);
  double p = params.has("p") ? params.get_float("p") : 1.0;
  if (p >= 1.0) return inner;
  return std::make_shared<ProbabilityGate>(std::move(inner), p);
}

}  // namespace xp
