// bf16 x bf16 -> fp32 GEMM on AVX512_BF16: vdpbf16ps multiplies 16 pairs of bf16 and adds both products to
// 16 fp32 accumulators, so the 14 x 32 register tile of the fp32 kernel does twice the work per
// instruction. fp8 inputs (e4m3fn, e5m2) are decoded to bf16 while packing; every fp8 value is exactly a
// bf16 value, so they ride the same kernel with no rounding. Chosen at run time when the CPU has the
// instruction (gemm.cpp); the functions with the target attribute are the only code using it.
#include <immintrin.h>

#include <array>
#include <bit>
#include <cstdint>
#include <vector>

#include "cpu/pack_raw.hpp"
#include "cpu/packed_driver.hpp"
#include "cpu/problem.hpp"
#include "lowbit/formats/dtype.hpp"

namespace lowbit::kernels::cpu {

namespace {

#define LOWBIT_BF16_TARGET __attribute__((target("avx512bf16,avx512f,avx512bw,avx512vl,avx512dq")))

struct Bf16Kernel {
  using Acc = float;
  static constexpr std::int64_t kMR = 14, kNR = 32, kKGroup = 2;
  // k blocks of 2048: fewer passes over C measured faster than B panels that fit the 32 KiB L1 (RESULTS.md,
  // "On Zen 4"). The 336-row A block is then 1.3 MiB, past Zen 4's 1 MiB L2; 168 rows measured no better
  // for the fp32 kernel, whose blocks are the same shape.
  static constexpr std::int64_t kKC = 2048;
  static constexpr std::int64_t kMCTiles = 24;
  static constexpr std::int64_t kNC = 2048;
  static std::int64_t groups(std::int64_t kc) { return (kc + kKGroup - 1) / kKGroup; }
  static void begin() {}
  static void end() {}

  static void pack_a(const GemmProblem& p, std::int64_t i0, std::int64_t mc, std::int64_t p0, std::int64_t kc,
                     std::uint32_t* out) {
    if (p.a.type == DType::bfloat16) return pack_a_rows_raw<kMR, std::uint16_t>(p.a, i0, mc, p0, kc, out);
    pack_a_rows_fp8<kMR>(p.a, i0, mc, p0, kc, out);
  }
  static void pack_b(const GemmProblem& p, std::int64_t p0, std::int64_t kc, std::int64_t j0, std::int64_t nc,
                     std::uint32_t* out) {
    if (p.b.type == DType::bfloat16) return pack_b_raw<std::uint16_t>(p.b, p0, kc, j0, nc, out, groups(kc));
    pack_b_fp8(p.b, p0, kc, j0, nc, out, groups(kc));
  }

  LOWBIT_BF16_TARGET static void tile(std::int64_t groups, const std::uint32_t* a, const std::uint32_t* b,
                                      float* c, std::int64_t ldc, float alpha, float beta, int mr, int nr) {
    __m512 c0[kMR], c1[kMR];
    if (beta != 0.0f) prefetch_tile(c, ldc, mr);
#pragma GCC unroll 16
    for (int r = 0; r < kMR; ++r) c0[r] = c1[r] = _mm512_setzero_ps();
    for (std::int64_t q = 0; q < groups; ++q) {
      const __m512bh b0 = (__m512bh)_mm512_load_si512(b), b1 = (__m512bh)_mm512_load_si512(b + 16);
#pragma GCC unroll 16
      for (int r = 0; r < kMR; ++r) {
        const __m512bh av = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[r]));
        c0[r] = _mm512_dpbf16_ps(c0[r], av, b0);
        c1[r] = _mm512_dpbf16_ps(c1[r], av, b1);
      }
      a += kMR;
      b += kNR;
    }
    const __mmask16 m0 = nr >= 16 ? 0xffff : static_cast<__mmask16>((1u << nr) - 1);
    const __mmask16 m1 = nr >= 32 ? 0xffff : nr <= 16 ? 0 : static_cast<__mmask16>((1u << (nr - 16)) - 1);
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
    for (int r = 0; r < kMR; ++r) {
      if (r >= mr) break;
      float* row = c + r * ldc;
      __m512 v0 = _mm512_mul_ps(c0[r], va), v1 = _mm512_mul_ps(c1[r], va);
      if (beta != 0.0f) {
        v0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, row), vb, v0);
        v1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m1, row + 16), vb, v1);
      }
      _mm512_mask_storeu_ps(row, m0, v0);
      _mm512_mask_storeu_ps(row + 16, m1, v1);
    }
  }
};

}  // namespace

void gemm_bf16_avx512(const GemmProblem& p) {
  packed_gemm_f32<Bf16Kernel>(p);
}

}  // namespace lowbit::kernels::cpu
