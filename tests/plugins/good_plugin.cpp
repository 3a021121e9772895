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

// A loss written for fp32 logits only, as a hand-written one with float buffers may be: under bf16
// autocast it throws, which `xp validate`'s dry build reports before any training.
class Fp32OnlyLoss : public xp::Loss {
 public:
  static xp::Schema schema() { return xp::Schema("test loss that refuses logits other than fp32"); }
  explicit Fp32OnlyLoss(const xp::Params&) {}
  torch::Tensor forward(const xp::ModelOutput& out, const xp::Batch&) override {
    if (out.logits.scalar_type() != torch::kFloat)
      throw std::runtime_error(std::string("logits are ") + c10::toString(out.logits.scalar_type()) + ", not fp32");
    return out.logits.mean();
  }
};

}  // namespace

XP_REGISTER_LOSS("test_constant" XP_TEST_PLUGIN_SUFFIX, ConstantLoss);
XP_REGISTER_LOSS("test_fp32_only" XP_TEST_PLUGIN_SUFFIX, Fp32OnlyLoss);
