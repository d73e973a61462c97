// int4 weight-only GEMV (M small, the LLM decode step): B is int4 weights stored N x K (PyTorch's [out, in]),
// with one scale (and optionally one zero point) per group of K; A is bf16 or fp32 activations. Each weight
// row is streamed once: 32 nibbles are unpacked in registers to two vectors of 16 int32, turned into exact
// floats through a 16-entry permute table, and multiplied into a per-group accumulator; at the end of a
// group the accumulator is scaled once (an FMA), and zero points come off as scale * zero * sum(a in group).
// The two threads split N.
#include <immintrin.h>
#include <omp.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "cpu/problem.hpp"

namespace lowbit::kernels::cpu {

namespace {

// GCC 12's avx512fintrin.h builds some results from _mm512_undefined_*(), which -Wuninitialized flags
// once inlined here (a known false positive of the header).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define LOWBIT_W4_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

// sum_p a[p] * w(j, p) for one weight row of `k` int4 (k a multiple of 32, group a multiple of 32).
LOWBIT_W4_TARGET float w4_row_dot(const float* a, const std::uint8_t* w, const float* scale,
                                  const std::int8_t* zero, const float* group_sum, std::int64_t k,
                                  std::int64_t group) {
  const __m512 table = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1);
  const __m128i low_mask = _mm_set1_epi8(0x0f);
  __m512 total = _mm512_setzero_ps();
  float zero_term = 0.0f;
  for (std::int64_t g0 = 0, gi = 0; g0 < k; g0 += group, ++gi) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (std::int64_t p = g0; p < g0 + group; p += 32) {
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + p / 2));
      const __m128i lo = _mm_and_si128(bytes, low_mask),
                    hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), low_mask);
      // Element 2i is the low nibble of byte i: interleaving lo and hi restores the order.
      const __m128i first = _mm_unpacklo_epi8(lo, hi), second = _mm_unpackhi_epi8(lo, hi);
      const __m512 w0 = _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(first), table);
      const __m512 w1 = _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(second), table);
      acc0 = _mm512_fmadd_ps(w0, _mm512_loadu_ps(a + p), acc0);
      acc1 = _mm512_fmadd_ps(w1, _mm512_loadu_ps(a + p + 16), acc1);
    }
    total = _mm512_fmadd_ps(_mm512_add_ps(acc0, acc1), _mm512_set1_ps(scale[gi]), total);
    if (zero) zero_term += scale[gi] * static_cast<float>(zero[gi]) * group_sum[gi];
  }
  return _mm512_reduce_add_ps(total) - zero_term;
}

#pragma GCC diagnostic pop

}  // namespace

bool gemv_w4_applies(const GemmProblem& p) {
  const MatrixIn& b = p.b;
  return p.m <= 8 && b.type == DType::int4 && b.transpose == Transpose::yes && b.group_size > 0 &&
         b.group_size % 32 == 0 && p.k % b.group_size == 0 && b.ld % 2 == 0 && p.a.group_size == 0 &&
         (p.a.type == DType::bfloat16 || p.a.type == DType::float32) && __builtin_cpu_supports("avx512bw");
}

void gemv_w4_avx512(const GemmProblem& p) {
  const std::int64_t groups = p.k / p.b.group_size;
  std::vector<float> acc(static_cast<std::size_t>(p.m * p.n));
  std::vector<float> a(static_cast<std::size_t>(p.k)), group_sum(static_cast<std::size_t>(groups));
  const auto* w = static_cast<const std::uint8_t*>(p.b.data);
  for (std::int64_t i = 0; i < p.m; ++i) {
    for (std::int64_t q = 0; q < p.k; ++q) {  // op(A) row i as fp32 (bf16 widens exactly)
      const std::int64_t idx = p.a.transpose == Transpose::yes ? q * p.a.ld + i : i * p.a.ld + q;
      if (p.a.type == DType::float32) {
        a[q] = static_cast<const float*>(p.a.data)[idx];
      } else {
        const std::uint32_t bits = std::uint32_t{static_cast<const std::uint16_t*>(p.a.data)[idx]} << 16;
        std::memcpy(&a[q], &bits, 4);
      }
    }
    if (p.b.group_zero) {
      for (std::int64_t g = 0; g < groups; ++g) {
        float s = 0;
        for (std::int64_t q = 0; q < p.b.group_size; ++q) s += a[g * p.b.group_size + q];
        group_sum[g] = s;
      }
    }
    const int threads = p.n * p.k < (1 << 18) ? 1 : p.threads;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t j = 0; j < p.n; ++j) {
      acc[i * p.n + j] = w4_row_dot(a.data(), w + j * p.b.ld / 2, p.b.group_scale + j * groups,
                                    p.b.group_zero ? p.b.group_zero + j * groups : nullptr, group_sum.data(),
                                    p.k, p.b.group_size);
    }
  }
  apply_epilogue(p, acc.data(), p.n, 0, p.m, 0, p.n);
}

}  // namespace lowbit::kernels::cpu
