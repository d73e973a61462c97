#include "oracle_f16c.hpp"

#include <immintrin.h>

namespace lowbit::test {

bool f16c_available() {
  return __builtin_cpu_supports("f16c");
}

// Compiled for F16C alone (the rest of the program may not assume it); called only after
// f16c_available().
__attribute__((target("f16c"))) void f16c_float_to_half(const float* in, std::uint16_t* out,
                                                        std::size_t count) {
  std::size_t i = 0;
  for (; i + 4 <= count; i += 4) {
    const __m128i half = _mm_cvtps_ph(_mm_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), half);
  }
  for (; i < count; ++i) {
    const __m128i half = _mm_cvtps_ph(_mm_set_ss(in[i]), _MM_FROUND_TO_NEAREST_INT);
    out[i] = static_cast<std::uint16_t>(_mm_cvtsi128_si32(half));
  }
}

}  // namespace lowbit::test
