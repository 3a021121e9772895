// Samplers: grid proposals by trial number, reproducible random ones, and TPE finding the optimum
// of known functions faster than random search (no training involved).
#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "parzen_estimator.h"
#include "sampler.h"
#include "tpe_sampler.h"

using namespace xp::sweeps;
using xp::Value;

namespace {

Dimension uniform(const std::string& key, double low, double high) {
  Dimension d;
  d.key = key;
  d.type = DimensionType::Uniform;
  d.low = low;
  d.high = high;
  return d;
}

// Runs a sequential sweep of `n` trials on f and returns the best value found.
template <typename F>
double best_of(Sampler& sampler, int n, F f, std::vector<TrialRecord>* out = nullptr) {
  std::vector<TrialRecord> history;
  double best = INFINITY;
  for (int i = 0; i < n; ++i) {
    auto p = sampler.propose(history, i);
    REQUIRE(p);
    TrialRecord t;
    t.number = i;
    t.params = *p;
    t.state = TrialState::Complete;
    t.value = f(*p);
    best = std::min(best, *t.value);
    history.push_back(t);
  }
  if (out) *out = history;
  return best;
}

double shifted_quadratic(const ParamSet& p) {
  double x = p.at("x").as_float(), y = p.at("y").as_float();
  return (x - 1.3) * (x - 1.3) + (y + 0.7) * (y + 0.7);
}

double branin(const ParamSet& p) {
  double x = p.at("x").as_float(), y = p.at("y").as_float();
  const double pi = 3.14159265358979;
  double a = y - 5.1 / (4 * pi * pi) * x * x + 5 / pi * x - 6;
  return a * a + 10 * (1 - 1 / (8 * pi)) * std::cos(x) + 10;  // minimum 0.397887
}

}  // namespace

TEST_CASE("grid sampler: trial i gets grid point i and the grid then ends") {
  Dimension a;
  a.key = "a";
  a.type = DimensionType::Choice;
  a.values = {Value(1), Value(2)};
  auto b = uniform("b", 0, 1);
  b.grid_points = 2;
  SearchSpace space({a, b});
  SamplerOptions o;
  o.method = "grid";
  auto sampler = make_sampler(space, o);
  REQUIRE(sampler->capacity() == 4);
  std::set<std::string> seen;
  for (int i = 0; i < 4; ++i) {
    auto p = *sampler->propose({}, i);
    seen.insert(p.at("a").to_string() + p.at("b").to_string());
  }
  CHECK(seen.size() == 4);
  CHECK_FALSE(sampler->propose({}, 4));
}

TEST_CASE("random sampler: the same seed and trial number give the same point") {
  SearchSpace space({uniform("x", -5, 5), uniform("y", -5, 5)});
  SamplerOptions o;
  o.method = "random";
  o.seed = 3;
  auto a = make_sampler(space, o), b = make_sampler(space, o);
  CHECK((*a->propose({}, 17) == *b->propose({}, 17)));
  CHECK((*a->propose({}, 17) != *a->propose({}, 18)));
  o.seed = 4;
  CHECK((*make_sampler(space, o)->propose({}, 17) != *a->propose({}, 17)));
}

TEST_CASE("tpe: gamma and observation weights follow Optuna") {
  CHECK(TpeSampler::n_below(1) == 1);
  CHECK(TpeSampler::n_below(10) == 1);
  CHECK(TpeSampler::n_below(11) == 2);
  CHECK(TpeSampler::n_below(1000) == 25);
  auto w = tpe_observation_weights(30);
  CHECK(w.front() == doctest::Approx(1.0 / 30));
  CHECK(w.back() == 1.0);
  CHECK(w[4] == doctest::Approx(1.0));
  CHECK(w[1] > w[0]);
}

TEST_CASE("parzen estimator: narrow kernels near clustered observations, densities normalised") {
  NumericParzenEstimator est({0.50, 0.51, 0.52, 0.9}, {1, 1, 1, 1}, 0.0, 1.0, 1.0);
  CHECK(est.log_pdf(0.51) > est.log_pdf(0.2));
  CHECK(est.log_pdf(0.51) > est.log_pdf(0.9));
  // Integrates to one over [low, high].
  double integral = 0;
  for (int i = 0; i < 10000; ++i) integral += std::exp(est.log_pdf((i + 0.5) / 10000.0)) / 10000.0;
  CHECK(integral == doctest::Approx(1.0).epsilon(1e-3));
  CHECK(std::exp(est.log_mass(0.0, 1.0)) == doctest::Approx(1.0));
  xp::Rng rng(1);
  for (int i = 0; i < 200; ++i) {
    double x = est.sample(rng);
    REQUIRE(x >= 0.0);
    REQUIRE(x <= 1.0);
  }
  CategoricalParzenEstimator cat({2, 2, 2, 0}, {1, 1, 1, 1}, 4, 1.0);
  CHECK(cat.probabilities()[2] > cat.probabilities()[0]);
  CHECK(cat.probabilities()[1] > 0);  // prior smoothing: never-seen categories stay possible
  CHECK(cat.probabilities()[1] == doctest::Approx(cat.probabilities()[3]));
}

TEST_CASE("tpe: beats random search on a shifted quadratic and on Branin (averaged over seeds)") {
  SearchSpace quad({uniform("x", -5, 5), uniform("y", -5, 5)});
  SearchSpace bran({uniform("x", -5, 10), uniform("y", 0, 15)});
  const int seeds = 8, trials = 80;
  double tpe_quad = 0, rnd_quad = 0, tpe_bran = 0, rnd_bran = 0;
  for (int s = 0; s < seeds; ++s) {
    SamplerOptions o;
    o.seed = static_cast<uint64_t>(s);
    o.direction = Direction::Minimize;
    o.method = "tpe";
    tpe_quad += best_of(*make_sampler(quad, o), trials, shifted_quadratic) / seeds;
    tpe_bran += best_of(*make_sampler(bran, o), trials, branin) / seeds;
    o.method = "random";
    rnd_quad += best_of(*make_sampler(quad, o), trials, shifted_quadratic) / seeds;
    rnd_bran += best_of(*make_sampler(bran, o), trials, branin) / seeds;
  }
  MESSAGE("quadratic best (mean of " << seeds << " seeds, " << trials << " trials): tpe " << tpe_quad << " random "
                                     << rnd_quad);
  MESSAGE("branin best: tpe " << tpe_bran << " random " << rnd_bran << " (optimum 0.398)");
  CHECK(tpe_quad < 0.5 * rnd_quad);
  CHECK(tpe_bran < rnd_bran);
  CHECK(tpe_bran < 0.8);
}

TEST_CASE("tpe: maximisation, integer and categorical dimensions; reproducible") {
  Dimension width;
  width.key = "width";
  width.type = DimensionType::IntLog;
  width.low = 1;
  width.high = 1024;
  Dimension act;
  act.key = "act";
  act.type = DimensionType::Choice;
  act.values = {Value("relu"), Value("gelu"), Value("tanh"), Value("sigmoid")};
  SearchSpace space({width, act});
  // Best at width 64 with gelu; maximised.
  auto f = [](const ParamSet& p) {
    double w = std::log2(static_cast<double>(p.at("width").as_int()));
    return -(w - 6) * (w - 6) + (p.at("act") == Value("gelu") ? 3.0 : 0.0);
  };
  SamplerOptions o;
  o.method = "tpe";
  o.direction = Direction::Maximize;
  o.seed = 11;
  std::vector<TrialRecord> history, again;
  best_of(*make_sampler(space, o), 60, [&](const ParamSet& p) { return -f(p); }, &history);
  best_of(*make_sampler(space, o), 60, [&](const ParamSet& p) { return -f(p); }, &again);
  for (size_t i = 0; i < history.size(); ++i) CHECK((history[i].params == again[i].params));
  // Maximising f directly: the late proposals concentrate on gelu.
  std::vector<TrialRecord> h;
  auto sampler = make_sampler(space, o);
  int gelu_late = 0;
  for (int i = 0; i < 60; ++i) {
    TrialRecord t;
    t.number = i;
    t.params = *sampler->propose(h, i);
    t.state = TrialState::Complete;
    t.value = f(t.params);
    if (i >= 40) gelu_late += t.params.at("act") == Value("gelu");
    REQUIRE(t.params.at("width").as_int() >= 1);
    REQUIRE(t.params.at("width").as_int() <= 1024);
    h.push_back(t);
  }
  CHECK(gelu_late >= 12);
}
