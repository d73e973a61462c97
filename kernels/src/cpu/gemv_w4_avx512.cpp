// int4 weight-only GEMV (M small, the LLM decode step): B is int4 weights stored N x K (PyTorch's [out, in]),
// with one scale (and optionally one zero point) per group of K; A is bf16 or fp32 activations. Each weight
// row is streamed once: 32 nibbles are unpacked in registers to two vectors of 16 int32, turned into exact
// floats through a 16-entry permute table, and multiplied into a per-group accumulator; at the end of a
// group the accumulator is scaled once (an FMA), and zero points come off as scale * zero * sum(a in group).
// The two threads split N.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "cpu/int4_bf16.hpp"
#include "cpu/problem.hpp"
#include "cpu/thread_pool.hpp"

namespace lowbit::kernels::cpu {

namespace {

// GCC 12's avx512fintrin.h builds some results from _mm512_undefined_*(), which -Wuninitialized flags
// once inlined here (a known false positive of the header).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define LOWBIT_W4_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

// Ends quantization group gi of kRows weight rows: total += scale * (acc0 + acc1), and the zero points'
// share, scale * z * sum(a over the group), into offset (subtracted once at the end).
template <int kRows>
LOWBIT_W4_TARGET inline void end_group(__m512 (&total)[kRows], float (&offset)[kRows],
                                       const __m512 (&acc0)[kRows], const __m512 (&acc1)[kRows],
                                       const float* const* scale, const std::int8_t* const* zero,
                                       const float* group_sum, std::int64_t gi) {
  for (int r = 0; r < kRows; ++r) {
    const float s = scale[r][gi];
    total[r] = _mm512_fmadd_ps(_mm512_add_ps(acc0[r], acc1[r]), _mm512_set1_ps(s), total[r]);
    if (zero[r]) offset[r] += s * static_cast<float>(zero[r][gi]) * group_sum[gi];
  }
}

// out[r] = sum_p a(p) * w_r(p) for kRows weight rows of `k` int4 (k and group multiples of 32). `a` is the
// activation row de-interleaved per 32 (see gemv_w4_avx512), `group_sum` its sums per group (for zero
// points: scale * sum (q - z) a = scale * (sum q a - z sum a)). 16 bytes widen to 16 int32 lanes: the low
// nibbles are the even k and the high nibbles the odd k (which is why `a` is stored evens first). vpermps
// reads only the low 4 bits of each index, so the byte itself indexes the low nibble's value and the byte
// shifted right by 4 the high one's: one permute turns 16 codes into their exact floats (the table maps
// the two's-complement code to q). Per 32 weights that is a widening load, a shift, two permutes and two
// FMAs, where unpacking with masks, subtractions and int -> float conversions took ten operations.
// Several rows at once give independent FMA chains and share the activation loads. Each row is only k / 2
// bytes (2 KiB at k = 4096), too short for the hardware prefetchers to ramp up on, so the loop prefetches the
// same position of the rows one pass ahead (`prefetch_ahead` bytes), a line per 128 weights: 1 x 4096 x 4096
// went from a median 10.3 to 11.1 GB/s of weights in interleaved runs (best 11.0 -> 13.5), 1 x 8192 x 8192
// unchanged within the noise.
template <int kRows>
LOWBIT_W4_TARGET void w4_rows_dot(const float* a, const std::uint8_t* const* w, const float* const* scale,
                                  const std::int8_t* const* zero, const float* group_sum, std::int64_t k,
                                  std::int64_t group, std::int64_t prefetch_ahead, float* out) {
  const __m512 code_value = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1);
  __m512 total[kRows];
  float offset[kRows] = {};
  for (int r = 0; r < kRows; ++r) total[r] = _mm512_setzero_ps();
  for (std::int64_t g0 = 0, gi = 0; g0 < k; g0 += group, ++gi) {
    __m512 acc0[kRows], acc1[kRows];
    for (int r = 0; r < kRows; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
    for (std::int64_t p = g0; p < g0 + group; p += 32) {
      const __m512 a_even = _mm512_loadu_ps(a + p), a_odd = _mm512_loadu_ps(a + p + 16);
      for (int r = 0; r < kRows; ++r) {
        if (p % 128 == 0)
          _mm_prefetch(reinterpret_cast<const char*>(w[r] + p / 2 + prefetch_ahead), _MM_HINT_T0);
        const __m512i x =
            _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[r] + p / 2)));
        acc0[r] = _mm512_fmadd_ps(_mm512_permutexvar_ps(x, code_value), a_even, acc0[r]);
        acc1[r] = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(x, 4), code_value), a_odd, acc1[r]);
      }
    }
    end_group<kRows>(total, offset, acc0, acc1, scale, zero, group_sum, gi);
  }
  for (int r = 0; r < kRows; ++r) out[r] = _mm512_reduce_add_ps(total[r]) - offset[r];
}

#define LOWBIT_W4_BF16_TARGET __attribute__((target("avx512bf16,avx512f,avx512bw,avx512vl,avx512dq")))

// The same for bf16 activations on AVX512_BF16, at a third of the vector operations per weight, which is
// what a Zen 4 core is short of here (its 512-bit operations take two passes). Each 16-bit word of the
// weight row holds 4 nibbles, the weights of k = 4i .. 4i + 3; a word's low 5 bits index a 32-entry table of
// the exact bf16 of the low nibble's q (entries i and i + 16 alike, code_bf16), so the row shifted right by
// 0, 4, 8 and 12 gives, by one vpermw each, 4 vectors of 32 bf16 weights, and each goes into one vdpbf16ps
// (16 lanes x 2 products). With kStep = 128 (64 bytes of a row per load) lane l of vector t holds the
// weights of k = 8l + t and 8l + 4 + t; with kStep = 64 (groups of 64: 32 bytes widened to words, 2
// nibbles each) lane l of vector t holds 4l + t and 4l + 2 + t. `a` is the activation row as bf16 pairs in
// that order (gemv_w4_avx512). Products of bf16 activations and small integers are exact in fp32;
// vdpbf16ps treats subnormal inputs as zero, as the bf16 GEMM kernel does.
template <int kRows, int kStep>
LOWBIT_W4_BF16_TARGET void w4_rows_dot_bf16(const std::uint16_t* a, const std::uint8_t* const* w,
                                            const float* const* scale, const std::int8_t* const* zero,
                                            const float* group_sum, std::int64_t k, std::int64_t group,
                                            std::int64_t prefetch_ahead, float* out) {
  constexpr int kVectors = kStep / 32;
  const __m512i code_value = _mm512_loadu_si512(code_bf16(false).data());
  __m512 total[kRows];
  float offset[kRows] = {};
  for (int r = 0; r < kRows; ++r) total[r] = _mm512_setzero_ps();
  for (std::int64_t g0 = 0, gi = 0; g0 < k; g0 += group, ++gi) {
    __m512 acc0[kRows], acc1[kRows];
    for (int r = 0; r < kRows; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
    for (std::int64_t p = g0; p < g0 + group; p += kStep) {
      __m512bh av[kVectors];
      for (int t = 0; t < kVectors; ++t) av[t] = (__m512bh)_mm512_loadu_si512(a + p + 32 * t);
      for (int r = 0; r < kRows; ++r) {
        if (p % 128 == 0)
          _mm_prefetch(reinterpret_cast<const char*>(w[r] + p / 2 + prefetch_ahead), _MM_HINT_T0);
        const __m512i x =
            kStep == 128
                ? _mm512_loadu_si512(w[r] + p / 2)
                : _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r] + p / 2)));
#pragma GCC unroll 4
        for (int t = 0; t < kVectors; ++t) {
          const __m512bh weights =
              (__m512bh)_mm512_permutexvar_epi16(_mm512_srli_epi16(x, 4 * t), code_value);
          if (t % 2 == 0) {
            acc0[r] = _mm512_dpbf16_ps(acc0[r], weights, av[t]);
          } else {
            acc1[r] = _mm512_dpbf16_ps(acc1[r], weights, av[t]);
          }
        }
      }
    }
    end_group<kRows>(total, offset, acc0, acc1, scale, zero, group_sum, gi);
  }
  for (int r = 0; r < kRows; ++r) out[r] = _mm512_reduce_add_ps(total[r]) - offset[r];
}

#pragma GCC diagnostic pop

// Weight rows per call of w4_rows_dot: the activation loads are shared among them.
constexpr int kRowsPerPass = 4;

}  // namespace

bool gemv_w4_applies(const GemmProblem& p) {
  const MatrixIn& b = p.b;
  return p.m <= 8 && b.type == DType::int4 && b.transpose == Transpose::yes && b.group_size > 0 &&
         b.group_span == 1 && b.group_size % 32 == 0 && p.k % b.group_size == 0 && b.ld % 2 == 0 &&
         p.a.group_size == 0 && (p.a.type == DType::bfloat16 || p.a.type == DType::float32) &&
         __builtin_cpu_supports("avx512bw");
}

void gemv_w4_avx512(const GemmProblem& p) {
  const std::int64_t groups = p.k / p.b.group_size;
  std::vector<float> acc(static_cast<std::size_t>(p.m * p.n));
  std::vector<float> a(static_cast<std::size_t>(p.k)), a_perm(a.size()),
      group_sum(static_cast<std::size_t>(groups));
  const auto* w = static_cast<const std::uint8_t*>(p.b.data);
  // bf16 activations, row-major, groups of 64 or 128: the AVX512_BF16 dot products.
  const bool bf16_pairs = p.a.type == DType::bfloat16 && p.a.transpose == Transpose::no &&
                          p.b.group_size % 64 == 0 && cpu_has_avx512_bf16();
  std::vector<std::uint16_t> a_pairs(bf16_pairs ? a.size() : 0);
  const std::int64_t step = p.b.group_size % 128 == 0 ? 128 : 64;  // weights per load of a row
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
    for (std::int64_t g = 0; g < groups && p.b.group_zero; ++g) {
      float sum = 0;
      for (std::int64_t q = 0; q < p.b.group_size; ++q) sum += a[g * p.b.group_size + q];
      group_sum[g] = sum;
    }
    if (bf16_pairs) {  // per step: vector t, lane l = (a[v l + t], a[v l + v / 2 + t]), v = 2 * vectors
      const auto* a_bf16 = static_cast<const std::uint16_t*>(p.a.data) + i * p.a.ld;
      const std::int64_t vectors = step / 32, v = 2 * vectors;
      for (std::int64_t q0 = 0; q0 < p.k; q0 += step) {
        for (std::int64_t t = 0; t < vectors; ++t) {
          for (std::int64_t l = 0; l < 16; ++l) {
            a_pairs[q0 + 32 * t + 2 * l] = a_bf16[q0 + v * l + t];
            a_pairs[q0 + 32 * t + 2 * l + 1] = a_bf16[q0 + v * l + v / 2 + t];
          }
        }
      }
    } else {  // de-interleave each block of 32: the even k first, then the odd k (w4_rows_dot's order)
      for (std::int64_t q0 = 0; q0 < p.k; q0 += 32) {
        for (int l = 0; l < 16; ++l) {
          a_perm[q0 + l] = a[q0 + 2 * l];
          a_perm[q0 + 16 + l] = a[q0 + 2 * l + 1];
        }
      }
    }
    const int threads = p.n * p.k < (1 << 18) ? 1 : p.threads;
    const std::int64_t passes = p.n / kRowsPerPass;
    const std::int64_t zstride = groups;
    auto rows = [&](std::int64_t j, auto count) {
      constexpr int kRows = decltype(count)::value;
      const std::uint8_t* wr[kRows];
      const float* sr[kRows];
      const std::int8_t* zr[kRows];
      for (int r = 0; r < kRows; ++r) {
        wr[r] = w + (j + r) * p.b.ld / 2;
        sr[r] = p.b.group_scale + (j + r) * groups;
        zr[r] = p.b.group_zero ? p.b.group_zero + (j + r) * zstride : nullptr;
      }
      if (bf16_pairs && step == 128) {
        w4_rows_dot_bf16<kRows, 128>(a_pairs.data(), wr, sr, zr, group_sum.data(), p.k, p.b.group_size,
                                     kRows * p.b.ld / 2, &acc[i * p.n + j]);
      } else if (bf16_pairs) {
        w4_rows_dot_bf16<kRows, 64>(a_pairs.data(), wr, sr, zr, group_sum.data(), p.k, p.b.group_size,
                                    kRows * p.b.ld / 2, &acc[i * p.n + j]);
      } else {
        w4_rows_dot<kRows>(a_perm.data(), wr, sr, zr, group_sum.data(), p.k, p.b.group_size,
                           kRows * p.b.ld / 2, &acc[i * p.n + j]);
      }
    };
    run_parallel(threads, [&](int t, int count) {
      for (std::int64_t q = passes * t / count; q < passes * (t + 1) / count; ++q) {
        rows(kRowsPerPass * q, std::integral_constant<int, kRowsPerPass>{});
      }
    });
    for (std::int64_t j = passes * kRowsPerPass; j < p.n; ++j) rows(j, std::integral_constant<int, 1>{});
  }
  apply_epilogue(p, acc.data(), p.n, 0, p.m, 0, p.n);
}

}  // namespace lowbit::kernels::cpu
