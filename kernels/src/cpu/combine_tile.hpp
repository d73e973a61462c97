// The last step of the kernels that finish a 32-column fp32 tile in memory (the AMX kernels, the int4
// AVX-512 kernel): C = alpha * acc + beta * C for the tile's first mr x nr elements.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace lowbit::kernels::cpu {

// acc: rows of 32 fp32, row stride 32, 64-byte aligned; C not read when beta == 0.
__attribute__((target("avx512f"))) inline void combine_f32(const float* acc, float* c, std::int64_t ldc,
                                                           float alpha, float beta, int mr, int nr) {
  const __mmask16 m0 = nr >= 16 ? 0xffff : static_cast<__mmask16>((1u << nr) - 1);
  const __mmask16 m1 = nr >= 32 ? 0xffff : nr <= 16 ? 0 : static_cast<__mmask16>((1u << (nr - 16)) - 1);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  for (int r = 0; r < mr; ++r) {
    float* row = c + r * ldc;
    __m512 v0 = _mm512_mul_ps(_mm512_load_ps(acc + r * 32), va);
    __m512 v1 = _mm512_mul_ps(_mm512_load_ps(acc + r * 32 + 16), va);
    if (beta != 0.0f) {
      v0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, row), vb, v0);
      v1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m1, row + 16), vb, v1);
    }
    _mm512_mask_storeu_ps(row, m0, v0);
    _mm512_mask_storeu_ps(row + 16, m1, v1);
  }
}

}  // namespace lowbit::kernels::cpu
