// int4 weight-only GEMM (M larger than the GEMV path takes) on AVX512_BF16, for CPUs without AMX (Zen 4):
// bf16 (or fp8) activations times int4 weights with group-wise scales along K, fp32 accumulation. The B
// panels are the AMX kernel's (w4_panels.hpp: bf16 pairs of q - zero, a row of column scales per 32 k); the
// register tile is 8 x 32 (the bf16 kernel's loop, gemm_bf16_avx512.cpp, on 8 rows). Each quantization group
// is multiplied into the 16 accumulator registers alone, then scaled per column and added to an fp32 tile:
//   acc(i, j) += scale(j, g) * sum_{p in g} A(i, p) * (q(p, j) - zero(j, g)).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "cpu/combine_tile.hpp"
#include "cpu/pack_raw.hpp"
#include "cpu/packed_driver.hpp"
#include "cpu/problem.hpp"
#include "cpu/w4_panels.hpp"
#include "lowbit/formats/dtype.hpp"

namespace lowbit::kernels::cpu {

namespace {

#define LOWBIT_BF16_TARGET __attribute__((target("avx512bf16,avx512f,avx512bw,avx512vl,avx512dq")))

// Panels: W4Panels (weights as stored) or W4PackedPanels (PackedInt4Weights).
template <class Panels>
struct Avx512W4Kernel : Panels {
  using Panels::groups;
  using Panels::kNR;
  using Panels::pairs;
  // 8 x 32 tiles: 16 accumulators, and no padding rows at M = 8, 16, 64 (14 x 32 tiles, the bf16 kernel's,
  // measured 3-5% slower at M = 64 and 512 and 35% at M = 16 on one Zen 4 core, with the group scaling).
  static constexpr std::int64_t kMR = 8, kMCTiles = 42;
  static void begin() {}
  static void end() {}

  // Rows of pairs(kc) words (zero pairs past kc, as B's), panels groups(kc) * kMR words apart.
  static void pack_a(const GemmProblem& p, std::int64_t i0, std::int64_t mc, std::int64_t p0, std::int64_t kc,
                     std::uint32_t* out) {
    if (p.a.type == DType::bfloat16) {
      return pack_a_rows_raw<kMR, std::uint16_t>(p.a, i0, mc, p0, kc, out, 0, pairs(kc), kMR * groups(kc));
    }
    pack_a_rows_fp8<kMR>(p.a, i0, mc, p0, kc, out, pairs(kc), kMR * groups(kc));
  }

  LOWBIT_BF16_TARGET static void tile(std::int64_t groups, const std::uint32_t* a, const std::uint32_t* b,
                                      float* c, std::int64_t ldc, float alpha, float beta, int mr, int nr) {
    if (beta != 0.0f) prefetch_tile(c, ldc, mr);
    const std::int64_t pairs = Panels::pairs_of_groups(groups), group_pairs = 16 * t_steps_per_group;
    const float* scales = reinterpret_cast<const float*>(b + pairs * kNR);
    alignas(64) float acc[kMR][kNR] = {};
    for (std::int64_t g0 = 0; g0 < pairs; g0 += group_pairs) {
      __m512 c0[kMR], c1[kMR];
#pragma GCC unroll 16
      for (int r = 0; r < kMR; ++r) c0[r] = c1[r] = _mm512_setzero_ps();
      const std::int64_t g1 = std::min(pairs, g0 + group_pairs);
      const std::uint32_t* ap = a + g0 * kMR;
      const std::uint32_t* bp = b + g0 * kNR;
      for (std::int64_t q = g0; q < g1; ++q) {
        const __m512bh b0 = (__m512bh)_mm512_load_si512(bp), b1 = (__m512bh)_mm512_load_si512(bp + 16);
#pragma GCC unroll 16
        for (int r = 0; r < kMR; ++r) {
          const __m512bh av = (__m512bh)_mm512_set1_epi32(static_cast<int>(ap[r]));
          c0[r] = _mm512_dpbf16_ps(c0[r], av, b0);
          c1[r] = _mm512_dpbf16_ps(c1[r], av, b1);
        }
        ap += kMR;
        bp += kNR;
      }
      const float* sc = scales + g0 / 16 * kNR;  // the row of the group's first step of 32 k
      const __m512 s0 = _mm512_loadu_ps(sc), s1 = _mm512_loadu_ps(sc + 16);
#pragma GCC unroll 16
      for (int r = 0; r < kMR; ++r) {
        _mm512_store_ps(acc[r], _mm512_fmadd_ps(c0[r], s0, _mm512_load_ps(acc[r])));
        _mm512_store_ps(acc[r] + 16, _mm512_fmadd_ps(c1[r], s1, _mm512_load_ps(acc[r] + 16)));
      }
    }
    combine_f32(&acc[0][0], c, ldc, alpha, beta, mr, nr);
  }
};

}  // namespace

void gemm_w4_avx512(const GemmProblem& p) {
  packed_gemm_f32<Avx512W4Kernel<W4Panels>>(p);
}

void gemm_w4_packed_avx512(const GemmProblem& p) {
  packed_gemm_f32<Avx512W4Kernel<W4PackedPanels>>(p);
}

}  // namespace lowbit::kernels::cpu
