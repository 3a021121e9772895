// Class-balanced oversampling with replacement, from the split's cheap labels (no decoding).
// "inverse_frequency" weights each sample by 1 / count(class)^power; "rule" encodes the usual
// hand-written rule "classes under 80 images x3, under 50 x5" as thresholds and factors.
#include <xp/plugin.h>

#include <algorithm>
#include <map>

namespace {

class WeightedSampler : public xp::Sampler {
 public:
  static xp::Schema schema() {
    return xp::Schema("Draws samples with replacement, weighted to rebalance classes (needs split labels)")
        .add_string("mode", "inverse_frequency", "how sample weights are set").choices({"inverse_frequency", "rule"})
        .add_float("power", 1.0, "inverse_frequency: weight = count^-power (1 = balanced, 0.5 = softened)").range(0.0, 1.0)
        .add_ints("thresholds", {80, 50}, "rule: a class with fewer images than a threshold is oversampled").min(1)
        .add_floats("factors", {3.0, 5.0}, "rule: factor for each threshold; the smallest threshold that "
                                           "applies wins").range(1.0, 1000.0)
        .add_int("num_samples", 0, "samples per epoch (0 = split size)").min(0);
  }

  explicit WeightedSampler(const xp::Params& p)
      : rule_(p.get_string("mode") == "rule"), power_(p.get_float("power")), num_samples_(p.get_int("num_samples")) {
    auto thresholds = p.get_ints("thresholds");
    auto factors = p.get_floats("factors");
    if (thresholds.size() != factors.size())
      throw std::invalid_argument("weighted sampler: thresholds has " + std::to_string(thresholds.size()) +
                                  " entries but factors has " + std::to_string(factors.size()));
    for (size_t i = 0; i < thresholds.size(); ++i) rule_steps_[thresholds[i]] = factors[i];
  }

  std::vector<int64_t> indices(const xp::SamplerContext& context) const override {
    if (!context.split) throw std::invalid_argument("weighted sampler: no split given");
    const auto& split = *context.split;
    const size_t n = split.size();
    std::vector<int64_t> labels(n);
    std::map<int64_t, int64_t> counts;
    for (size_t i = 0; i < n; ++i) {
      labels[i] = split.label(i);
      if (labels[i] < 0)
        throw xp::ConfigError("weighted sampler: sample " + std::to_string(i) +
                              " has no cheap label; this dataset cannot be class-balanced (use sampler 'random')");
      ++counts[labels[i]];
    }
    std::map<int64_t, double> class_weight;
    for (const auto& [label, count] : counts) class_weight[label] = weight_for(count);

    std::vector<double> cumulative(n);
    double total = 0;
    for (size_t i = 0; i < n; ++i) cumulative[i] = (total += class_weight[labels[i]]);

    const int64_t wanted = num_samples_ > 0 ? num_samples_ : static_cast<int64_t>(n);
    std::vector<int64_t> out;
    if (n == 0) return out;
    out.reserve(wanted);
    xp::Rng rng(xp::Rng::mix(context.seed, static_cast<uint64_t>(context.epoch), 0x3e16u));
    for (int64_t k = 0; k < wanted; ++k) {
      double u = rng.uniform(0.0, total);
      auto it = std::upper_bound(cumulative.begin(), cumulative.end(), u);
      out.push_back(std::min<int64_t>(it - cumulative.begin(), static_cast<int64_t>(n) - 1));
    }
    return out;
  }

 private:
  double weight_for(int64_t count) const {
    if (!rule_) return std::pow(static_cast<double>(count), -power_);
    for (const auto& [threshold, factor] : rule_steps_)  // ascending: the smallest threshold first
      if (count < threshold) return factor;
    return 1.0;
  }

  bool rule_;
  double power_;
  int64_t num_samples_;
  std::map<int64_t, double> rule_steps_;
};

}  // namespace

XP_REGISTER_SAMPLER("weighted", WeightedSampler);
