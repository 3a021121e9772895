#include "xp/rng.h"

namespace xp {

namespace {
uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
}  // namespace

uint64_t Rng::mix(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  uint64_t h = splitmix(a);
  h = splitmix(h ^ b);
  h = splitmix(h ^ c);
  return splitmix(h ^ d);
}

// Hand-rolled draws instead of std:: distributions, whose algorithms differ between standard
// libraries: the same seed must give the same augmentation on every platform.
double Rng::uniform(double lo, double hi) {
  double u = static_cast<double>(engine_() >> 11) * (1.0 / 9007199254740992.0);
  return lo + (hi - lo) * u;
}

double Rng::normal(double mean, double stddev) {
  // Box-Muller; one value per call keeps the stream position easy to reason about.
  double u1 = uniform();
  double u2 = uniform();
  if (u1 < 1e-300) u1 = 1e-300;
  return mean + stddev * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

int64_t Rng::integer(int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
  return lo + static_cast<int64_t>(engine_() % span);
}

namespace {
// Marsaglia-Tsang gamma sampler (shape >= 1), boosted for shape < 1.
double gamma(Rng& rng, double shape) {
  if (shape < 1.0) {
    double u = rng.uniform();
    if (u < 1e-300) u = 1e-300;
    return gamma(rng, shape + 1.0) * std::pow(u, 1.0 / shape);
  }
  double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x = rng.normal(), v = 1.0 + c * x;
    if (v <= 0) continue;
    v = v * v * v;
    double u = rng.uniform();
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}
}  // namespace

double Rng::beta(double a, double b) {
  double x = gamma(*this, a), y = gamma(*this, b);
  return x + y > 0 ? x / (x + y) : 0.5;
}

}  // namespace xp
