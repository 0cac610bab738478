#include "testgen/random.h"

#include <cmath>

namespace lp::testgen {

double portable_log(double x) {
  int e = 0;
  double m = std::frexp(x, &e);  // x = m * 2^e, m in [0.5, 1): exact
  if (m < 0.70710678118654752440) {
    m *= 2.0;
    e -= 1;
  }
  // log(m) = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.172: 11 odd terms reach double precision.
  const double s = (m - 1.0) / (m + 1.0);
  const double s2 = s * s;
  double series = 1.0 / 23.0;
  for (int k = 21; k >= 1; k -= 2) series = 1.0 / k + s2 * series;
  constexpr double kLn2 = 0.69314718055994530942;
  return 2.0 * s * series + static_cast<double>(e) * kLn2;
}

double NormalSampler::next() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  for (;;) {
    const double u = 2.0 * rng_.uniform() - 1.0;
    const double v = 2.0 * rng_.uniform() - 1.0;
    const double s = u * u + v * v;
    if (s >= 1.0 || s == 0.0) continue;
    const double m = std::sqrt(-2.0 * portable_log(s) / s);
    spare_ = v * m;
    has_spare_ = true;
    return u * m;
  }
}

}  // namespace lp::testgen
