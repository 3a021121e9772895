#pragma once
// The one header a plugin source includes. Registration is one line per plugin:
//
//   class Focal : public xp::Loss {
//    public:
//     static xp::Schema schema();            // typed parameters, documented
//     explicit Focal(const xp::Params& p);   // constructed with validated params
//     torch::Tensor forward(const xp::ModelOutput&, const xp::Batch&) override;
//   };
//   XP_REGISTER_LOSS("focal", Focal);
//
// A library may register any number of plugins. The library's versioned C entry points
// (xp_plugin_manifest_v1, xp_plugin_register_v1) are added by the xp_add_plugin() CMake function.

#include <memory>
#include <string>
#include <vector>

#include "xp/augmentation.h"
#include "xp/dataset.h"
#include "xp/errors.h"
#include "xp/loss.h"
#include "xp/metric.h"
#include "xp/model.h"
#include "xp/params.h"
#include "xp/plugin_registry.h"
#include "xp/rng.h"
#include "xp/sampler.h"
#include "xp/schema.h"
#include "xp/version.h"

extern "C" {
// Read by the host before anything else in the library is used. Plain C, fixed layout: new fields
// may only be appended (struct_size tells the host how much it may read).
struct xp_plugin_manifest {
  unsigned struct_size;
  unsigned abi_version;        // XP_PLUGIN_ABI_VERSION the plugin was compiled with
  const char* xp_version;      // XP_VERSION_STRING
  int torch_major, torch_minor;
  int cxx11_abi;               // _GLIBCXX_USE_CXX11_ABI
  const char* compiler;        // for messages only
};
}

namespace xp::detail {

// One list per shared library: hidden visibility keeps the dynamic linker from merging the lists
// of different plugin libraries (and the host's) into one.
__attribute__((visibility("hidden"))) inline std::vector<PluginEntry>& library_entries() {
  static std::vector<PluginEntry> entries;
  return entries;
}

template <class Kind, class Impl>
struct Registrar {
  explicit Registrar(const char* name) {
    PluginEntry e;
    e.kind = Kind::kKind;
    e.name = name;
    e.schema = Impl::schema();
    e.factory = [](const Params& p) -> std::shared_ptr<void> {
      std::shared_ptr<Kind> object = std::make_shared<Impl>(p);
      return object;
    };
    library_entries().push_back(std::move(e));
  }
};

}  // namespace xp::detail

#define XP_DETAIL_CONCAT2(a, b) a##b
#define XP_DETAIL_CONCAT(a, b) XP_DETAIL_CONCAT2(a, b)
#define XP_REGISTER_PLUGIN(KIND, NAME, CLASS)                                             \
  static const ::xp::detail::Registrar<KIND, CLASS> XP_DETAIL_CONCAT(xp_registrar_,     \
                                                                     __COUNTER__)(NAME)

#define XP_REGISTER_MODEL(NAME, CLASS) XP_REGISTER_PLUGIN(::xp::Model, NAME, CLASS)
#define XP_REGISTER_LOSS(NAME, CLASS) XP_REGISTER_PLUGIN(::xp::Loss, NAME, CLASS)
#define XP_REGISTER_DATASET(NAME, CLASS) XP_REGISTER_PLUGIN(::xp::Dataset, NAME, CLASS)
#define XP_REGISTER_AUGMENTATION(NAME, CLASS) XP_REGISTER_PLUGIN(::xp::Augmentation, NAME, CLASS)
#define XP_REGISTER_BATCH_AUGMENTATION(NAME, CLASS) \
  XP_REGISTER_PLUGIN(::xp::BatchAugmentation, NAME, CLASS)
#define XP_REGISTER_SAMPLER(NAME, CLASS) XP_REGISTER_PLUGIN(::xp::Sampler, NAME, CLASS)
#define XP_REGISTER_METRIC(NAME, CLASS) XP_REGISTER_PLUGIN(::xp::Metric, NAME, CLASS)
