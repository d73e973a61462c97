#include "lowbit/quant/error_stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace lowbit::quant {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
[[gnu::target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")]]
#endif
void ErrorStats::add(const float* reference, const float* approximation, std::size_t n) {
  // Eight independent lanes of partial sums and maxima in vector registers (GCC vector extensions: the
  // auto-vectorizer leaves this loop scalar).
  using V = double __attribute__((vector_size(64)));
  V s = {}, e = {}, m = {};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float* r = reference + i;
    const float* q = approximation + i;
    const V x = {r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]};
    const V y = {q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7]};
    const V d = x - y;
    s += x * x;
    e += d * d;
    const V a = d < 0 ? -d : d;
    m = a > m ? a : m;
  }
  double max = max_abs;
  for (int k = 0; k < 8; ++k) {
    signal += s[k];
    noise += e[k];
    max = std::max(max, m[k]);
  }
  for (; i < n; ++i) {
    const double x = reference[i];
    const double d = x - static_cast<double>(approximation[i]);
    signal += x * x;
    noise += d * d;
    max = std::max(max, std::fabs(d));
  }
  max_abs = max;
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
