#include "max_pool_2x2.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

// Compiled for AVX-512 by attribute and entered only when the CPU has it (max_pool_2x2_available), as the
// kernels' AVX-512 paths are (DESIGN.md section 4).
#define LOWBIT_POOL_TARGET __attribute__((target("avx512f")))

namespace lowbit::train::detail {

namespace {

constexpr std::int64_t kLanes = 16;

// The mask of the first `count` lanes (none when count <= 0, all from 16 up).
LOWBIT_POOL_TARGET __mmask16 first_lanes(std::int64_t count) {
  if (count <= 0) return 0;
  return count >= kLanes ? __mmask16(0xffff) : __mmask16((1u << count) - 1);
}

// One step of the window scan: `v` replaces the best so far when strictly larger, or when it is a NaN and
// the best is not (PyTorch's rule, as the generic loop).
LOWBIT_POOL_TARGET void scan(__m512 v, std::int32_t offset, __m512& best, __m512i& code) {
  const __mmask16 larger = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ);
  const __mmask16 nan_over_number =
      _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q);
  const __mmask16 take = larger | nan_over_number;
  best = _mm512_mask_mov_ps(best, take, v);
  code = _mm512_mask_mov_epi32(code, take, _mm512_set1_epi32(offset));
}

}  // namespace

LOWBIT_POOL_TARGET void max_pool_2x2_forward(const float* x, float* out, std::int32_t* argmax,
                                             std::int64_t planes, std::int64_t h, std::int64_t w) {
  const std::int64_t oh = h / 2, ow = w / 2;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const auto w32 = static_cast<std::int32_t>(w);
  for (std::int64_t plane = 0; plane < planes; ++plane) {
    const float* in = x + plane * h * w;
    for (std::int64_t i = 0; i < oh; ++i) {
      const float* r0 = in + 2 * i * w;
      const float* r1 = r0 + w;
      for (std::int64_t j = 0; j < ow; j += kLanes) {
        const std::int64_t count = std::min(kLanes, ow - j);
        const __mmask16 lo = first_lanes(2 * count), hi = first_lanes(2 * count - kLanes);
        // Sixteen windows: the even and odd columns of both rows.
        const __m512 a0 = _mm512_maskz_loadu_ps(lo, r0 + 2 * j),
                     a1 = _mm512_maskz_loadu_ps(hi, r0 + 2 * j + kLanes);
        const __m512 b0 = _mm512_maskz_loadu_ps(lo, r1 + 2 * j),
                     b1 = _mm512_maskz_loadu_ps(hi, r1 + 2 * j + kLanes);
        __m512 best = _mm512_permutex2var_ps(a0, even, a1);
        __m512i code = _mm512_setzero_si512();
        scan(_mm512_permutex2var_ps(a0, odd, a1), 1, best, code);
        scan(_mm512_permutex2var_ps(b0, even, b1), w32, best, code);
        scan(_mm512_permutex2var_ps(b0, odd, b1), w32 + 1, best, code);
        // Offset in the plane: the window's top-left element (2i, 2(j + lane)) plus the code.
        const __m512i corner = _mm512_add_epi32(
            _mm512_set1_epi32(static_cast<std::int32_t>(2 * i * w + 2 * j)),
            _mm512_slli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 1));
        const __mmask16 store = first_lanes(count);
        const std::int64_t o = (plane * oh + i) * ow + j;
        _mm512_mask_storeu_ps(out + o, store, best);
        _mm512_mask_storeu_epi32(argmax + o, store, _mm512_add_epi32(corner, code));
      }
    }
  }
}

LOWBIT_POOL_TARGET void max_pool_2x2_backward(const float* grad, const std::int32_t* argmax, float* gx,
                                              std::int64_t planes, std::int64_t h, std::int64_t w) {
  const std::int64_t oh = h / 2, ow = w / 2;
  // Interleaving of an even-column and an odd-column vector back into two vectors of one input row.
  const __m512i low_half = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i high_half = _mm512_add_epi32(low_half, _mm512_set1_epi32(8));
  const __m512i lane2 = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i c1 = _mm512_set1_epi32(1), cw = _mm512_set1_epi32(static_cast<std::int32_t>(w)),
                cw1 = _mm512_set1_epi32(static_cast<std::int32_t>(w + 1));
  for (std::int64_t plane = 0; plane < planes; ++plane) {
    float* out = gx + plane * h * w;
    for (std::int64_t i = 0; i < oh; ++i) {
      float* r0 = out + 2 * i * w;
      float* r1 = r0 + w;
      for (std::int64_t j = 0; j < ow; j += kLanes) {
        const std::int64_t count = std::min(kLanes, ow - j);
        const __mmask16 lanes = first_lanes(count);
        const std::int64_t o = (plane * oh + i) * ow + j;
        const __m512 g = _mm512_maskz_loadu_ps(lanes, grad + o);
        const __m512i code = _mm512_sub_epi32(
            _mm512_maskz_loadu_epi32(lanes, argmax + o),
            _mm512_add_epi32(_mm512_set1_epi32(static_cast<std::int32_t>(2 * i * w + 2 * j)), lane2));
        const __m512 e0 = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(code, _mm512_setzero_si512()), g);
        const __m512 o0 = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(code, c1), g);
        const __m512 e1 = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(code, cw), g);
        const __m512 o1 = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(code, cw1), g);
        const __mmask16 lo = first_lanes(2 * count), hi = first_lanes(2 * count - kLanes);
        _mm512_mask_storeu_ps(r0 + 2 * j, lo, _mm512_permutex2var_ps(e0, low_half, o0));
        _mm512_mask_storeu_ps(r0 + 2 * j + kLanes, hi, _mm512_permutex2var_ps(e0, high_half, o0));
        _mm512_mask_storeu_ps(r1 + 2 * j, lo, _mm512_permutex2var_ps(e1, low_half, o1));
        _mm512_mask_storeu_ps(r1 + 2 * j + kLanes, hi, _mm512_permutex2var_ps(e1, high_half, o1));
      }
      if (w % 2 != 0) r0[w - 1] = r1[w - 1] = 0.0f;  // the odd last column belongs to no window
    }
    if (h % 2 != 0) std::memset(out + (h - 1) * w, 0, static_cast<std::size_t>(w) * sizeof(float));
  }
}

bool max_pool_2x2_available() {
  static const bool yes = __builtin_cpu_supports("avx512f");
  return yes;
}

}  // namespace lowbit::train::detail
