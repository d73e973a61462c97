#include "lowbit/quant/error_stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace lowbit::quant {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
[[gnu::target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")]]
#endif
void ErrorStats::add(const float* reference, const float* approximation, std::size_t n) {
  // Eight independent lanes of partial sums and maxima: the compiler maps them onto vector registers.
  constexpr int kLanes = 8;
  double s[kLanes] = {}, e[kLanes] = {}, m[kLanes] = {};
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int k = 0; k < kLanes; ++k) {
      const double x = reference[i + k];
      const double d = x - static_cast<double>(approximation[i + k]);
      s[k] += x * x;
      e[k] += d * d;
      m[k] = std::max(m[k], std::fabs(d));
    }
  }
  for (int k = 0; i < n; ++i, ++k) {
    const double x = reference[i];
    const double d = x - static_cast<double>(approximation[i]);
    s[k] += x * x;
    e[k] += d * d;
    m[k] = std::max(m[k], std::fabs(d));
  }
  for (int k = 0; k < kLanes; ++k) {
    signal += s[k];
    noise += e[k];
    max_abs = std::max(max_abs, m[k]);
  }
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
