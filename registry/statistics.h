#pragma once
// The statistics behind `xp report`: sample summaries, Student t intervals and Welch's t-test.
// The t distribution comes from the regularized incomplete beta function (Lentz's continued
// fraction), so no statistics library is needed.
#include <optional>
#include <vector>

namespace xp::stats {

double mean(const std::vector<double>& x);
// Sample standard deviation (n - 1 in the denominator); NaN for fewer than two values.
double sample_std(const std::vector<double>& x);

// I_x(a, b) for a, b > 0 and 0 <= x <= 1.
double regularized_incomplete_beta(double a, double b, double x);
// P(T <= t) for Student's t with `df` > 0 degrees of freedom (df need not be an integer).
double student_t_cdf(double t, double df);
// The t with P(T <= t) = p, 0 < p < 1.
double student_t_quantile(double p, double df);

// Half width of the 95% confidence interval of the mean: t(0.975, n-1) * s / sqrt(n).
// NaN for fewer than two values.
double ci95_half_width(const std::vector<double>& x);

struct WelchResult {
  double t = 0, df = 0, p_value = 1;  // two-sided
};
// Welch's unequal-variance t-test of mean(a) != mean(b); std::nullopt when either sample has
// fewer than two values or both have zero variance and equal means (the test is undefined).
std::optional<WelchResult> welch_t_test(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace xp::stats
