// Statistics behind `xp report`, against values from scipy 1.10 (scipy.stats.ttest_ind with
// equal_var=False, scipy.stats.t, scipy.special.betainc) and closed forms.
#include <doctest/doctest.h>

#include <cmath>

#include "statistics.h"

using namespace xp::stats;

TEST_CASE("report statistics: incomplete beta matches closed forms and scipy") {
  CHECK(regularized_incomplete_beta(3.0, 1.0, 0.4) == doctest::Approx(std::pow(0.4, 3)).epsilon(1e-13));
  CHECK(regularized_incomplete_beta(1.0, 4.0, 0.3) == doctest::Approx(1 - std::pow(0.7, 4)).epsilon(1e-13));
  CHECK(regularized_incomplete_beta(7.5, 7.5, 0.5) == doctest::Approx(0.5).epsilon(1e-13));
  CHECK(regularized_incomplete_beta(2.5, 0.5, 0.3) == doctest::Approx(0.01892712407194565).epsilon(1e-11));
  CHECK(regularized_incomplete_beta(10, 3, 0.8) == doctest::Approx(0.55834574848).epsilon(1e-11));
  CHECK(regularized_incomplete_beta(0.5, 0.5, 0.1) == doctest::Approx(0.2048327646991335).epsilon(1e-11));
  CHECK(regularized_incomplete_beta(50, 60, 0.45) == doctest::Approx(0.4642352914306064).epsilon(1e-10));
  CHECK(regularized_incomplete_beta(2, 3, 0.0) == 0.0);
  CHECK(regularized_incomplete_beta(2, 3, 1.0) == 1.0);
  CHECK_THROWS(regularized_incomplete_beta(0, 3, 0.5));
  CHECK_THROWS(regularized_incomplete_beta(2, 3, 1.5));
}

TEST_CASE("report statistics: Student t CDF and quantiles") {
  const double pi = std::acos(-1.0);
  for (double t : {-30.0, -2.0, -0.5, 0.0, 0.7, 3.0, 12.0}) {
    CHECK(student_t_cdf(t, 1) == doctest::Approx(0.5 + std::atan(t) / pi).epsilon(1e-12));  // Cauchy
    CHECK(student_t_cdf(t, 2) == doctest::Approx(0.5 + t / (2 * std::sqrt(t * t + 2))).epsilon(1e-12));
  }
  CHECK(student_t_cdf(1.5, 3) == doctest::Approx(0.8847080673775886).epsilon(1e-11));
  CHECK(student_t_cdf(-2.2, 7.3) == doctest::Approx(0.031084582700011767).epsilon(1e-10));
  CHECK(student_t_cdf(0.3, 100) == doctest::Approx(0.6176000598498482).epsilon(1e-11));
  CHECK(student_t_cdf(40, 3) == doctest::Approx(0.9999828096596054).epsilon(1e-12));
  CHECK(student_t_quantile(0.975, 4) == doctest::Approx(2.7764451051977987).epsilon(1e-10));
  CHECK(student_t_quantile(0.975, 9) == doctest::Approx(2.2621571627409915).epsilon(1e-10));
  CHECK(student_t_quantile(0.975, 1) == doctest::Approx(12.706204736432095).epsilon(1e-9));
  CHECK(student_t_quantile(0.975, 2.5) == doctest::Approx(3.5746548420118773).epsilon(1e-10));
  CHECK(student_t_quantile(0.025, 4) == doctest::Approx(-2.7764451051977987).epsilon(1e-10));
}

TEST_CASE("report statistics: mean, sample std and 95% interval by hand") {
  std::vector<double> a = {0.912, 0.905, 0.918, 0.909, 0.915};
  CHECK(mean(a) == doctest::Approx(0.9118).epsilon(1e-13));
  CHECK(sample_std(a) == doctest::Approx(0.005069516742254635).epsilon(1e-11));
  CHECK(ci95_half_width(a) == doctest::Approx(0.006294636427148823).epsilon(1e-10));
  // By hand: deviations 0.0002 -0.0068 0.0062 -0.0028 0.0032, sum of squares 1.028e-4, / 4.
  CHECK(sample_std(a) == doctest::Approx(std::sqrt(1.028e-4 / 4)).epsilon(1e-10));
  CHECK(std::isnan(sample_std({1.0})));
  CHECK(std::isnan(ci95_half_width({1.0})));
}

TEST_CASE("report statistics: Welch t-test matches scipy ttest_ind(equal_var=False)") {
  auto r = welch_t_test({0.912, 0.905, 0.918, 0.909, 0.915}, {0.897, 0.901, 0.893, 0.899, 0.902});
  REQUIRE(r);
  CHECK(r->t == doctest::Approx(4.829024800048219).epsilon(1e-10));
  CHECK(r->p_value == doctest::Approx(0.0017625834130635923).epsilon(1e-8));

  auto u = welch_t_test({1, 2, 3, 4, 5}, {2, 4, 6, 8, 10, 12});  // unequal sizes and variances
  REQUIRE(u);
  CHECK(u->t == doctest::Approx(-2.3763541031440183).epsilon(1e-10));
  CHECK(u->df == doctest::Approx(6.9722557297949335).epsilon(1e-10));
  CHECK(u->p_value == doctest::Approx(0.04928433820673049).epsilon(1e-8));

  CHECK_FALSE(welch_t_test({1.0}, {2.0, 3.0}));      // too few values
  CHECK_FALSE(welch_t_test({1.0, 1.0}, {1.0, 1.0}));  // undefined
  auto certain = welch_t_test({1.0, 1.0}, {2.0, 2.0});
  REQUIRE(certain);
  CHECK(certain->p_value == 0.0);
}
