// The fp32 register-tile micro-kernel: C[kMR x 2 vectors] += A panel (kMR x kc) * B panel (kc x 2 vectors),
// both packed (pack_f32-inl.h). Every k step loads two vectors of B and broadcasts kMR elements of A into
// 2 * kMR FMAs, the accumulators never leaving registers: on AVX-512 a 14 x 32 tile uses 28 of the 32
// registers, leaving 2 for B and 1 for the broadcast; on 16-register targets 6 x 2 vectors uses 12.

// Per-target include guard (the Highway idiom: toggled once per target).
#if defined(LOWBIT_KERNELS_MICROKERNEL_F32_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LOWBIT_KERNELS_MICROKERNEL_F32_INL_H_
#undef LOWBIT_KERNELS_MICROKERNEL_F32_INL_H_
#else
#define LOWBIT_KERNELS_MICROKERNEL_F32_INL_H_
#endif

#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

HWY_BEFORE_NAMESPACE();
namespace lowbit::kernels::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using FloatTag = hn::ScalableTag<float>;

// Rows of the register tile: as many as the register file holds beside two B vectors and a broadcast.
#if HWY_MAX_BYTES >= 64
inline constexpr std::size_t kMR = 14;
#else
inline constexpr std::size_t kMR = 6;
#endif

// How many k steps ahead the micro-kernel prefetches its B panel.
inline constexpr std::size_t kBPrefetchSteps = 16;

// Columns of the register tile: two vectors.
HWY_INLINE std::size_t tile_cols() {
  return 2 * hn::Lanes(FloatTag());
}

// acc tile -> C: C = alpha * acc + beta * C (C not read when beta == 0), only the first mr x nr elements.
// Full tiles store straight from registers; edge tiles go through a small buffer.
template <std::size_t kRows, class V>
HWY_INLINE void store_tile(V (&c0)[kRows], V (&c1)[kRows], float* HWY_RESTRICT c, std::int64_t ldc,
                           float alpha, float beta, std::size_t mr, std::size_t nr) {
  const FloatTag d;
  const std::size_t lanes = hn::Lanes(d);
  const auto va = hn::Set(d, alpha);
  if (mr == kRows && nr == 2 * lanes) {
    if (beta == 0.0f) {
      for (std::size_t r = 0; r < kRows; ++r) {
        hn::StoreU(hn::Mul(c0[r], va), d, c + r * ldc);
        hn::StoreU(hn::Mul(c1[r], va), d, c + r * ldc + lanes);
      }
    } else if (beta == 1.0f) {
      for (std::size_t r = 0; r < kRows; ++r) {
        hn::StoreU(hn::MulAdd(c0[r], va, hn::LoadU(d, c + r * ldc)), d, c + r * ldc);
        hn::StoreU(hn::MulAdd(c1[r], va, hn::LoadU(d, c + r * ldc + lanes)), d, c + r * ldc + lanes);
      }
    } else {
      const auto vb = hn::Set(d, beta);
      for (std::size_t r = 0; r < kRows; ++r) {
        hn::StoreU(hn::MulAdd(c0[r], va, hn::Mul(vb, hn::LoadU(d, c + r * ldc))), d, c + r * ldc);
        hn::StoreU(hn::MulAdd(c1[r], va, hn::Mul(vb, hn::LoadU(d, c + r * ldc + lanes))), d,
                   c + r * ldc + lanes);
      }
    }
    return;
  }
  HWY_ALIGN float tile[kRows * 2 * HWY_MAX_BYTES / sizeof(float)] = {};  // edge tiles only
  for (std::size_t r = 0; r < kRows; ++r) {
    hn::Store(c0[r], d, tile + r * 2 * lanes);
    hn::Store(c1[r], d, tile + r * 2 * lanes + lanes);
  }
  for (std::size_t r = 0; r < mr; ++r) {
    for (std::size_t j = 0; j < nr; ++j) {
      float& out = c[r * ldc + j];
      const float v = alpha * tile[r * 2 * lanes + j];
      out = beta == 0.0f ? v : v + beta * out;
    }
  }
}

// How the micro-kernel walks A: element (r, p) of the tile is at a[r * row_step + p * k_step].
//   kColumns: row_step 1 (a packed panel, k_step = kMR; or a transposed A read in place, k_step = lda): each
//     k step broadcasts kRows adjacent floats.
//   kRows: k_step 1 (a row-major A read in place, row_step = lda): kRows streams, one float each per step.
enum class AWalk { kColumns, kRows };

// One register tile of kRows rows over kc steps of A (walked as above) and packed B (2 vectors per step).
template <std::size_t kRows, AWalk kWalk>
HWY_NOINLINE void micro_kernel_f32(std::size_t kc, const float* HWY_RESTRICT a, std::int64_t a_step,
                                   const float* HWY_RESTRICT b, float* HWY_RESTRICT c, std::int64_t ldc,
                                   float alpha, float beta, std::size_t nr) {
  const FloatTag d;
  const std::size_t lanes = hn::Lanes(d);
  using V = hn::Vec<FloatTag>;
  // C's rows are a leading dimension apart, often a multiple of 4 KiB, so they share one L1 set and miss
  // at the store below; fetching them now overlaps those misses with the k loop.
  for (std::size_t r = 0; r < kRows; ++r) {
    hwy::Prefetch(c + r * ldc);
    hwy::Prefetch(c + r * ldc + 2 * lanes - 1);
  }
  V c0[kRows], c1[kRows];
#pragma GCC unroll 16
  for (std::size_t r = 0; r < kRows; ++r) c0[r] = c1[r] = hn::Zero(d);
  for (std::size_t p = 0; p < kc; ++p) {
    const V b0 = hn::Load(d, b), b1 = hn::Load(d, b + lanes);
#pragma GCC unroll 16
    for (std::size_t r = 0; r < kRows; ++r) {
      const float* element = kWalk == AWalk::kColumns ? a + r : a + static_cast<std::int64_t>(r) * a_step;
      const V av = hn::Set(d, *element);
      c0[r] = hn::MulAdd(av, b0, c0[r]);
      c1[r] = hn::MulAdd(av, b1, c1[r]);
    }
    a += kWalk == AWalk::kColumns ? a_step : 1;
    b += 2 * lanes;
    // The B panel (kc x 2 vectors, 128 KiB at kc = 1024) streams from L2 on every tile; fetching it ahead
    // kept the FMAs fed better: +3-4% on a 336 x 1024 x 2048 block alone, +1% on a whole 2048^3 sgemm (one
    // core, CPU time, interleaved runs). Placed after the loads: before them, GCC 12 kept the accumulators
    // in memory and stored all 28 on every step (half the speed). Past the panel's end this touches the next
    // panel, or nothing: prefetches never fault.
    __builtin_prefetch(b + kBPrefetchSteps * 2 * lanes);
    __builtin_prefetch(b + kBPrefetchSteps * 2 * lanes + lanes);
  }
  store_tile<kRows>(c0, c1, c, ldc, alpha, beta, kRows, nr);
}

// Rows [0, rows) of a C tile (rows <= kMR) against one B panel: the full-height kernel, then 8, 4, 2 and 1
// rows for what is left, so a short last tile costs its own rows and reads no row of A past them.
template <AWalk kWalk>
HWY_INLINE void multiply_tile_f32(std::size_t rows, std::size_t kc, const float* HWY_RESTRICT a,
                                  std::int64_t a_row, std::int64_t a_step, const float* HWY_RESTRICT b,
                                  float* HWY_RESTRICT c, std::int64_t ldc, float alpha, float beta,
                                  std::size_t nr) {
  std::size_t r = 0;
  auto run = [&](auto height) {
    constexpr std::size_t kHeight = decltype(height)::value;
    for (; r + kHeight <= rows; r += kHeight) {
      micro_kernel_f32<kHeight, kWalk>(kc, a + static_cast<std::int64_t>(r) * a_row, a_step, b,
                                       c + static_cast<std::int64_t>(r) * ldc, ldc, alpha, beta, nr);
    }
  };
  run(std::integral_constant<std::size_t, kMR>());
  run(std::integral_constant<std::size_t, 8>());
  run(std::integral_constant<std::size_t, 4>());
  run(std::integral_constant<std::size_t, 2>());
  run(std::integral_constant<std::size_t, 1>());
}

// The same register tile straight from unpacked operands, for products with few rows (m <= 16), where
// packing all of B would cost more than the product itself: A(r, p) = a[r * a_row + p * a_k], B(p, j) =
// b[p * ldb + j] (B not transposed: each k step is a contiguous run of columns). kMasked reads only the
// first nr columns (the last, partial tile of a row of C), through a zero-padded copy, so no target reads
// memory past them.
template <std::size_t kRows, bool kMasked>
HWY_NOINLINE void direct_kernel_f32(std::size_t kc, const float* HWY_RESTRICT a, std::int64_t a_row,
                                    std::int64_t a_k, const float* HWY_RESTRICT b, std::int64_t ldb,
                                    float* HWY_RESTRICT c, std::int64_t ldc, float alpha, float beta,
                                    std::size_t nr) {
  const FloatTag d;
  const std::size_t lanes = hn::Lanes(d);
  using V = hn::Vec<FloatTag>;
  HWY_ALIGN float edge[2 * HWY_MAX_BYTES / sizeof(float)] = {};
  V c0[kRows], c1[kRows];
#pragma GCC unroll 16
  for (std::size_t r = 0; r < kRows; ++r) c0[r] = c1[r] = hn::Zero(d);
  for (std::size_t p = 0; p < kc; ++p) {
    const float* bp = b + static_cast<std::int64_t>(p) * ldb;
    V b0, b1;
    if constexpr (kMasked) {
      for (std::size_t j = 0; j < nr; ++j) edge[j] = bp[j];
      b0 = hn::Load(d, edge);
      b1 = hn::Load(d, edge + lanes);
    } else {
      b0 = hn::LoadU(d, bp);
      b1 = hn::LoadU(d, bp + lanes);
    }
    const float* ap = a + static_cast<std::int64_t>(p) * a_k;
#pragma GCC unroll 16
    for (std::size_t r = 0; r < kRows; ++r) {
      const V av = hn::Set(d, ap[static_cast<std::int64_t>(r) * a_row]);
      c0[r] = hn::MulAdd(av, b0, c0[r]);
      c1[r] = hn::MulAdd(av, b1, c1[r]);
    }
  }
  store_tile<kRows>(c0, c1, c, ldc, alpha, beta, kRows, kMasked ? nr : 2 * lanes);
}

}  // namespace lowbit::kernels::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
