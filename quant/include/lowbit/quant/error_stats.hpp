// The error of a quantized tensor against its source: signal-to-quantization-noise ratio and the largest
// absolute error, accumulated in double over any number of chunks.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lowbit::quant {

struct ErrorStats {
  double signal = 0;   // sum of x^2
  double noise = 0;    // sum of (x - q)^2
  double max_abs = 0;  // max |x - q|
  std::uint64_t count = 0;

  void add(const float* reference, const float* approximation, std::size_t n);
  void merge(const ErrorStats& other);
  // 10 log10(signal / noise) in dB; +infinity when exact (noise 0), -infinity for an all-zero source
  // reproduced with error.
  double sqnr_db() const;
};

}  // namespace lowbit::quant
