// A minimal plugin for the loader tests. Built twice: as-is, and with another plugin ABI version.
#include "xp/plugin.h"

#ifndef XP_TEST_PLUGIN_SUFFIX
#define XP_TEST_PLUGIN_SUFFIX ""
#endif

namespace {

class ConstantLoss : public xp::Loss {
 public:
  static xp::Schema schema() {
    return xp::Schema("test loss that returns a constant")
        .add_float("value", 1.0, "the constant").range(0.0, 100.0)
        .add_string("mode", "plain", "a choice").choices({"plain", "fancy"});
  }
  explicit ConstantLoss(const xp::Params& p) : value_(p.get_float("value")) {}
  torch::Tensor forward(const xp::ModelOutput&, const xp::Batch&) override { return torch::tensor(value_); }

 private:
  double value_;
};

}  // namespace

XP_REGISTER_LOSS("test_constant" XP_TEST_PLUGIN_SUFFIX, ConstantLoss);
