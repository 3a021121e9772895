#include "statistics.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include <boost/math/distributions/students_t.hpp>
#include <boost/math/special_functions/beta.hpp>

namespace xp::stats {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

double mean(const std::vector<double>& x) {
  if (x.empty()) return kNaN;
  double s = 0;
  for (double v : x) s += v;
  return s / static_cast<double>(x.size());
}

double sample_std(const std::vector<double>& x) {
  if (x.size() < 2) return kNaN;
  double m = mean(x), ss = 0;
  for (double v : x) ss += (v - m) * (v - m);
  return std::sqrt(ss / static_cast<double>(x.size() - 1));
}

// Boost.Math: the incomplete beta and Student's t are kept well there; the scipy reference values
// in tests/unit/test_report_statistics.cpp check both.
double regularized_incomplete_beta(double a, double b, double x) {
  if (!(a > 0) || !(b > 0)) throw std::domain_error("incomplete beta needs a, b > 0");
  if (!(x >= 0 && x <= 1)) throw std::domain_error("incomplete beta needs 0 <= x <= 1");
  return boost::math::ibeta(a, b, x);
}

double student_t_cdf(double t, double df) {
  if (!(df > 0)) throw std::domain_error("t distribution needs df > 0");
  if (std::isnan(t)) return kNaN;
  if (std::isinf(t)) return t > 0 ? 1.0 : 0.0;
  return boost::math::cdf(boost::math::students_t(df), t);
}

double student_t_quantile(double p, double df) {
  if (!(p > 0 && p < 1)) throw std::domain_error("t quantile needs 0 < p < 1");
  return boost::math::quantile(boost::math::students_t(df), p);
}

double ci95_half_width(const std::vector<double>& x) {
  if (x.size() < 2) return kNaN;
  double n = static_cast<double>(x.size());
  return student_t_quantile(0.975, n - 1) * sample_std(x) / std::sqrt(n);
}

std::optional<WelchResult> welch_t_test(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() < 2 || b.size() < 2) return std::nullopt;
  double na = static_cast<double>(a.size()), nb = static_cast<double>(b.size());
  double va = std::pow(sample_std(a), 2) / na, vb = std::pow(sample_std(b), 2) / nb;
  double diff = mean(a) - mean(b);
  WelchResult r;
  if (va + vb == 0) {
    if (diff == 0) return std::nullopt;
    // Two constant samples that differ: the difference is certain.
    r.t = diff > 0 ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
    r.df = na + nb - 2;
    r.p_value = 0.0;
    return r;
  }
  r.t = diff / std::sqrt(va + vb);
  r.df = (va + vb) * (va + vb) / (va * va / (na - 1) + vb * vb / (nb - 1));
  r.p_value = std::min(1.0, 2.0 * student_t_cdf(-std::fabs(r.t), r.df));
  return r;
}

}  // namespace xp::stats
