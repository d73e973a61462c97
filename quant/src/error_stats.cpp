#include "lowbit/quant/error_stats.hpp"

#include <cmath>
#include <limits>

namespace lowbit::quant {

void ErrorStats::add(const float* reference, const float* approximation, std::size_t n) {
  double s = 0, e = 0, m = max_abs;
  for (std::size_t i = 0; i < n; ++i) {
    const double x = reference[i];
    const double d = x - static_cast<double>(approximation[i]);
    s += x * x;
    e += d * d;
    m = std::fabs(d) > m ? std::fabs(d) : m;
  }
  signal += s;
  noise += e;
  max_abs = m;
  count += n;
}

void ErrorStats::merge(const ErrorStats& other) {
  signal += other.signal;
  noise += other.noise;
  max_abs = other.max_abs > max_abs ? other.max_abs : max_abs;
  count += other.count;
}

double ErrorStats::sqnr_db() const {
  if (noise == 0) return std::numeric_limits<double>::infinity();
  if (signal == 0) return -std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal / noise);
}

}  // namespace lowbit::quant
