// int4 weight-only GEMM (M larger than the GEMV path takes) on AMX: bf16 (or fp8) activations times int4
// weights with group-wise scales along K, fp32 accumulation. B panels and the per-group scaling:
// w4_panels.hpp; each group is multiplied on the tiles by itself and its 32 x 32 partial result is scaled
// per column and added to an fp32 accumulator.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "cpu/amx.hpp"
#include "cpu/bf16_read.hpp"
#include "cpu/combine_tile.hpp"
#include "cpu/pack_raw.hpp"
#include "cpu/problem.hpp"
#include "cpu/w4_panels.hpp"
#include "lowbit/formats/dtype.hpp"

namespace lowbit::kernels::cpu {

namespace {

// Panels: W4Panels (weights as stored) or W4PackedPanels (PackedInt4Weights).
template <class Panels>
struct AmxW4Kernel : Panels {
  using Panels::groups;
  using Panels::kNR;
  using Panels::pairs;
  static constexpr std::int64_t kMR = 32, kMCTiles = 8;
  static void begin() { load_tile_config(); }
  static void end() { release_tiles(); }

  static void pack_a(const GemmProblem& p, std::int64_t i0, std::int64_t mc, std::int64_t p0, std::int64_t kc,
                     std::uint32_t* out) {
    if (p.a.type == DType::bfloat16) {
      return pack_a_amx_raw<std::uint16_t>(p.a, i0, mc, p0, kc, pairs(kc), out, kMR * groups(kc));
    }
    with_bf16_reader(p.a.type, [&](auto read) {
      pack_a_amx<2, std::uint16_t>(p.a, i0, mc, p0, kc, pairs(kc), out, read, kMR * groups(kc));
    });
  }

  // acc (+)= sums * the 32 column scales; `first`: acc not yet written.
  LOWBIT_AMX_TARGET static void scale_into(float* acc, const float* sums, const float* scales, bool first) {
    const __m512 sc0 = _mm512_loadu_ps(scales), sc1 = _mm512_loadu_ps(scales + 16);
    for (int r = 0; r < 32; ++r) {
      for (int h = 0; h < 2; ++h) {
        float* dst = acc + r * 32 + 16 * h;
        const __m512 old = first ? _mm512_setzero_ps() : _mm512_load_ps(dst);
        _mm512_store_ps(dst, _mm512_fmadd_ps(_mm512_load_ps(sums + r * 32 + 16 * h), h ? sc1 : sc0, old));
      }
    }
  }

  // Group g's partial sums are scaled into `acc` (vector FMAs) only after group g + 1's tile products are
  // issued, from the other of two `part` buffers, so the core does that work while the tiles multiply
  // instead of the tile unit waiting for it. The first group initializes `acc` (no zeroing pass).
  LOWBIT_AMX_TARGET static void tile(std::int64_t groups, const std::uint32_t* a, const std::uint32_t* b,
                                     float* c, std::int64_t ldc, float alpha, float beta, int mr, int nr) {
    const std::int64_t steps = Panels::pairs_of_groups(groups) / 16;
    const float* scales = reinterpret_cast<const float*>(b + steps * 16 * kNR);
    alignas(64) float acc[32 * 32];
    alignas(64) float part[2][32 * 32];
    std::int64_t previous = -1;
    int buffer = 0;
    for (std::int64_t s0 = 0; s0 < steps; s0 += t_steps_per_group) {
      _tile_zero(0);
      _tile_zero(1);
      _tile_zero(2);
      _tile_zero(3);
      const std::int64_t s1 = std::min(steps, s0 + t_steps_per_group);
      for (std::int64_t s = s0; s < s1; ++s) {
        _tile_loadd(4, a + s * 512, 64);
        _tile_loadd(5, a + s * 512 + 256, 64);
        _tile_loadd(6, b + s * 512, 128);
        _tile_loadd(7, b + s * 512 + 16, 128);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
      }
      if (previous >= 0) scale_into(acc, part[buffer ^ 1], scales + previous * kNR, previous == 0);
      float* sums = part[buffer];
      _tile_stored(0, sums, 128);
      _tile_stored(1, sums + 16, 128);
      _tile_stored(2, sums + 512, 128);
      _tile_stored(3, sums + 512 + 16, 128);
      previous = s0;
      buffer ^= 1;
    }
    scale_into(acc, part[buffer ^ 1], scales + previous * kNR, previous == 0);
    combine_f32(acc, c, ldc, alpha, beta, mr, nr);
  }
};

}  // namespace

bool gemm_w4_applies(const GemmProblem& p) {
  const MatrixIn& a = p.a;
  const MatrixIn& b = p.b;
  return b.type == DType::int4 && b.group_size > 0 && b.group_size % 32 == 0 && b.group_span == 1 &&
         W4Panels::kKC % b.group_size == 0 && a.group_size == 0 &&
         (a.type == DType::bfloat16 || a.type == DType::float8_e4m3fn || a.type == DType::float8_e5m2);
}

void gemm_w4_amx(const GemmProblem& p) {
  packed_gemm_f32<AmxW4Kernel<W4Panels>>(p);
}

void gemm_w4_packed_amx(const GemmProblem& p) {
  packed_gemm_f32<AmxW4Kernel<W4PackedPanels>>(p);
}

}  // namespace lowbit::kernels::cpu
