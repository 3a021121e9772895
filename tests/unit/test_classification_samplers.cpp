// Samplers: permutation property, determinism by (seed, epoch), and the weighted rule's realised
// oversampling ratios.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include "test_classification_support.h"

using xp_test::make;

namespace {

// Labels only: a sampler must never decode a sample.
class LabelSplit : public xp::Split {
 public:
  explicit LabelSplit(std::vector<int64_t> labels) : labels_(std::move(labels)) {}
  size_t size() const override { return labels_.size(); }
  xp::Sample load(size_t) const override { throw std::logic_error("a sampler decoded a sample"); }
  int64_t label(size_t i) const override { return labels_.at(i); }

 private:
  std::vector<int64_t> labels_;
};

std::vector<int64_t> labels_with_counts(std::vector<int64_t> counts) {
  std::vector<int64_t> labels;
  for (size_t c = 0; c < counts.size(); ++c) labels.insert(labels.end(), counts[c], static_cast<int64_t>(c));
  return labels;
}

xp::SamplerContext context(const xp::Split& split, uint64_t seed, int64_t epoch) {
  xp::SamplerContext c;
  c.seed = seed;
  c.epoch = epoch;
  c.split = &split;
  return c;
}

}  // namespace

TEST_CASE("random sampler: a permutation, fixed by seed and epoch") {
  LabelSplit split(std::vector<int64_t>(100, 0));
  auto sampler = make<xp::Sampler>("random");
  auto a = sampler->indices(context(split, 7, 0));
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> identity(100);
  for (int64_t i = 0; i < 100; ++i) identity[i] = i;
  CHECK(sorted == identity);
  CHECK(a != identity);
  CHECK(make<xp::Sampler>("random")->indices(context(split, 7, 0)) == a);  // a fresh sampler, same order
  CHECK(sampler->indices(context(split, 7, 1)) != a);
  CHECK(sampler->indices(context(split, 8, 0)) != a);
  auto longer = make<xp::Sampler>("random", {{"num_samples", 250}})->indices(context(split, 7, 0));
  CHECK(longer.size() == 250);
  CHECK(std::count(longer.begin(), longer.end(), 5) >= 2);
}

TEST_CASE("sequential sampler: 0..n-1") {
  LabelSplit split(std::vector<int64_t>(5, 1));
  CHECK(make<xp::Sampler>("sequential")->indices(context(split, 1, 3)) == std::vector<int64_t>{0, 1, 2, 3, 4});
}

TEST_CASE("weighted sampler: the rule oversamples classes under 80 x3 and under 50 x5") {
  // 200 / 60 / 30 / 90 images: class 1 is under 80, class 2 under 50, classes 0 and 3 are left alone.
  LabelSplit split(labels_with_counts({200, 60, 30, 90}));
  auto sampler = make<xp::Sampler>("weighted", {{"mode", "rule"}, {"num_samples", 60000}});
  auto draws = sampler->indices(context(split, 1, 0));
  REQUIRE(draws.size() == 60000);
  std::map<int64_t, double> per_class;
  for (int64_t i : draws) per_class[split.label(i)] += 1;
  const double base = per_class[0] / 200;  // draws per image of an untouched class
  CHECK(per_class[3] / 90 / base == doctest::Approx(1.0).epsilon(0.05));
  CHECK(per_class[1] / 60 / base == doctest::Approx(3.0).epsilon(0.05));
  CHECK(per_class[2] / 30 / base == doctest::Approx(5.0).epsilon(0.05));
  CHECK(sampler->indices(context(split, 1, 0)) == draws);
  CHECK(sampler->indices(context(split, 1, 1)) != draws);
  // num_samples 0 = the split's size.
  CHECK(make<xp::Sampler>("weighted", {{"mode", "rule"}})->indices(context(split, 1, 0)).size() == split.size());
}

TEST_CASE("weighted sampler: inverse frequency balances classes; errors") {
  LabelSplit split(labels_with_counts({500, 50, 10}));
  auto draws = make<xp::Sampler>("weighted", {{"num_samples", 30000}})->indices(context(split, 2, 0));
  std::map<int64_t, double> per_class;
  for (int64_t i : draws) per_class[split.label(i)] += 1;
  for (int64_t c = 0; c < 3; ++c) CHECK(per_class[c] / 30000 == doctest::Approx(1.0 / 3).epsilon(0.05));

  LabelSplit unlabelled(std::vector<int64_t>(4, -1));
  CHECK_THROWS_WITH_AS(make<xp::Sampler>("weighted")->indices(context(unlabelled, 0, 0)),
                       doctest::Contains("no cheap label"), xp::ConfigError);
  CHECK_THROWS_WITH_AS(make<xp::Sampler>("weighted", {{"thresholds", xp_test::ints({80})}}),
                       doctest::Contains("factors has 2"), xp::ConfigError);
}
