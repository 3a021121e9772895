// `pr_auc`: average precision of the pixel probabilities, on every pixel and with the negatives
// thinned to fixed ratios. With ~0.1% positives the full-set AP depends on how much empty area was
// evaluated; AP at 1:200 / 1:500 / 1:1000 is comparable across datasets of different emptiness.
#include "average_precision.h"
#include "seg_prediction.h"
#include "xp/plugin.h"

namespace xp::seg {
namespace {

class PrAucMetric : public Metric {
 public:
  static Schema schema() {
    return Schema("Pixel average precision (area under the PR curve): ap on all pixels and ap_1_<r> with "
                  "negatives subsampled to r per positive (expected-count subsampling, deterministic)")
        .add_ints("neg_ratios", {200, 500, 1000}, "negatives per positive of the subsampled variants").min(1)
        .add_int("bins", 10000, "histogram bins of the probabilities (AP resolution 1/bins)").range(10, 10000000)
        .add_int("ignore_index", 255, "target value of pixels left out").range(-1, 65535)
        .outputs({"ap", "ap_1_*"})
        .tasks({"segmentation"});
  }

  explicit PrAucMetric(const Params& p)
      : ratios_(p.get_ints("neg_ratios")), ignore_index_(p.get_int("ignore_index")), histogram_(p.get_int("bins")) {}

  void reset() override { histogram_.clear(); }

  void update(const ModelOutput& output, const Batch& batch) override {
    auto v = pixel_view(output, batch, ignore_index_, "metric 'pr_auc'");
    const float* prob = v.probability.data_ptr<float>();
    const bool* pos = v.positive.data_ptr<bool>();
    const bool* valid = v.valid.data_ptr<bool>();
    for (int64_t i = 0, n = v.probability.numel(); i < n; ++i)
      if (valid[i]) histogram_.add(prob[i], pos[i]);
  }

  bool reduce_state(MetricStateReducer& r) override {
    histogram_.reduce([&](int64_t* v, size_t n) { r.sum(v, n); });
    return true;
  }

  std::map<std::string, double> compute() const override {
    std::map<std::string, double> out{{"ap", histogram_.average_precision()}};
    const double p = static_cast<double>(histogram_.positives()), n = static_cast<double>(histogram_.negatives());
    for (int64_t r : ratios_) {
      // Fewer negatives than asked for: nothing to thin, the variant equals the full-set AP.
      double scale = n > 0 ? std::min(1.0, static_cast<double>(r) * p / n) : 1.0;
      out["ap_1_" + std::to_string(r)] = histogram_.average_precision(scale);
    }
    return out;
  }

 private:
  std::vector<int64_t> ratios_;
  int64_t ignore_index_;
  ScoreHistogram histogram_;
};

}  // namespace
}  // namespace xp::seg

XP_REGISTER_METRIC("pr_auc", xp::seg::PrAucMetric);
