// balanced / curriculum samplers: the realised positive share of every batch.
#include "xp/plugin.h"
// After the torch headers: glog (pulled in by c10) defines its own CHECK.
#include <doctest/doctest.h>

namespace seg_test {
xp::Params params(const std::string& kind, const std::string& name, const xp::Value::Table& overrides = {});
}

namespace {

// 100 tiles, every 10th holds an object.
class TenPercentSplit : public xp::Split {
 public:
  size_t size() const override { return 100; }
  xp::Sample load(size_t) const override { return {}; }
  int64_t label(size_t i) const override { return i % 10 == 0 ? 1 : 0; }
};

class UnlabelledSplit : public TenPercentSplit {
 public:
  int64_t label(size_t) const override { return -1; }
};

std::shared_ptr<xp::Sampler> make_sampler(const std::string& name, const xp::Value::Table& overrides = {}) {
  return xp::create<xp::Sampler>(seg_test::params("sampler", name, overrides));
}

// Positives in each consecutive chunk of `batch`.
std::vector<int> positives_per_batch(const std::vector<int64_t>& idx, int64_t batch) {
  std::vector<int> out;
  for (size_t b = 0; b + batch <= idx.size(); b += batch) {
    int n = 0;
    for (int64_t i = 0; i < batch; ++i) n += idx[b + i] % 10 == 0;
    out.push_back(n);
  }
  return out;
}

}  // namespace

TEST_CASE("seg samplers: balanced batches hold the asked positive share") {
  TenPercentSplit split;
  xp::SamplerContext c{42, 0, 8, &split};
  auto idx = make_sampler("balanced")->indices(c);
  CHECK(idx.size() == 96);  // 100 / 8 = 12 batches
  for (int n : positives_per_batch(idx, 8)) CHECK(n == 4);
  for (auto i : idx) CHECK((i >= 0 && i < 100));

  auto quarter = make_sampler("balanced", {{"pos_fraction", 0.25}, {"batches", int64_t{50}}})->indices(c);
  CHECK(quarter.size() == 400);
  for (int n : positives_per_batch(quarter, 8)) CHECK(n == 2);

  // Deterministic per (seed, epoch), different across epochs.
  CHECK(make_sampler("balanced")->indices(c) == idx);
  xp::SamplerContext next{42, 1, 8, &split};
  CHECK(make_sampler("balanced")->indices(next) != idx);
  // Every positive tile gets visited over a long epoch (drawn with replacement from the pool).
  std::set<int64_t> seen(quarter.begin(), quarter.end());
  for (int64_t i = 0; i < 100; i += 10) CHECK(seen.count(i) == 1);

  UnlabelledSplit unlabelled;
  xp::SamplerContext u{42, 0, 8, &unlabelled};
  CHECK_THROWS_WITH_AS(make_sampler("balanced")->indices(u), doctest::Contains("Split::label"), xp::ConfigError);
}

TEST_CASE("seg samplers: curriculum follows its ratio schedule") {
  TenPercentSplit split;
  auto s = make_sampler("curriculum", {{"ratios", xp::Value::List{1.0, 3.0, 7.0}},
                                       {"epochs", xp::Value::List{int64_t{0}, int64_t{2}, int64_t{4}}}});
  auto at = [&](int64_t epoch) { return positives_per_batch(s->indices({1, epoch, 8, &split}), 8); };
  for (int n : at(0)) CHECK(n == 4);  // 1:1
  for (int n : at(1)) CHECK(n == 4);
  for (int n : at(2)) CHECK(n == 2);  // 1:3
  for (int n : at(4)) CHECK(n == 1);  // 1:7
  for (int n : at(40)) CHECK(n == 1);

  CHECK_THROWS_AS(make_sampler("curriculum", {{"ratios", xp::Value::List{1.0}}}), xp::ConfigError);
  CHECK_THROWS_WITH_AS(make_sampler("curriculum", {{"ratios", xp::Value::List{1.0, 2.0}},
                                                   {"epochs", xp::Value::List{int64_t{0}, int64_t{0}}}}),
                       doctest::Contains("increase"), xp::ConfigError);
}
