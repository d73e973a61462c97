#include "lowbit/kernels/transpose.hpp"

#include "cpu/transpose_block.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cstddef>

namespace lowbit::kernels {

namespace {

template <class T>
void scalar_tiles(const T* src, std::int64_t col_stride, T* dst, std::int64_t ld, std::int64_t rows,
                  std::int64_t cols) {
  constexpr std::int64_t kTile = 32;
  for (std::int64_t r0 = 0; r0 < rows; r0 += kTile) {
    const std::int64_t r1 = std::min(rows, r0 + kTile);
    for (std::int64_t c0 = 0; c0 < cols; c0 += kTile) {
      const std::int64_t c1 = std::min(cols, c0 + kTile);
      for (std::int64_t c = c0; c < c1; ++c) {
        const T* column = src + c * col_stride;
        for (std::int64_t r = r0; r < r1; ++r) dst[r * ld + c] = column[r];
      }
    }
  }
}

// Compiled for AVX-512 by attribute and entered only when the CPU has it (DESIGN.md section 4).
#define LOWBIT_TRANSPOSE_TARGET __attribute__((target("avx512f")))

// GCC 12's avx512fintrin.h builds the results of the shuffles from _mm512_undefined_ps(), which
// -Wmaybe-uninitialized flags once inlined; every lane is written.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// One 16 x 16 block: v[k] holds source column k (16 consecutive rows); afterwards v[i] holds row i. Three
// rounds of pairwise interleaving: 32-bit elements, then 64-bit pairs, then 128-bit quarters (twice).
LOWBIT_TRANSPOSE_TARGET void transpose_16x16(__m512 v[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    v[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    v[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xee);
    v[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    v[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xee);
  }
  for (int i = 0; i < 16; i += 8) {
    for (int j = 0; j < 4; ++j) {
      t[i + j] = _mm512_shuffle_f32x4(v[i + j], v[i + j + 4], 0x88);
      t[i + j + 4] = _mm512_shuffle_f32x4(v[i + j], v[i + j + 4], 0xdd);
    }
  }
  for (int j = 0; j < 8; ++j) {
    v[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
    v[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xdd);
  }
}

LOWBIT_TRANSPOSE_TARGET void transpose_avx512(const float* src, std::int64_t col_stride, float* dst,
                                              std::int64_t rows, std::int64_t cols) {
  const std::int64_t rows16 = rows / 16 * 16, cols16 = cols / 16 * 16;
  for (std::int64_t c0 = 0; c0 < cols16; c0 += 16) {
    for (std::int64_t r0 = 0; r0 < rows16; r0 += 16) {
      __m512 v[16];
      for (int k = 0; k < 16; ++k) v[k] = _mm512_loadu_ps(src + (c0 + k) * col_stride + r0);
      transpose_16x16(v);
      for (int i = 0; i < 16; ++i) _mm512_storeu_ps(dst + (r0 + i) * cols + c0, v[i]);
    }
  }
  // The edges: the last rows % 16 rows, and the last cols % 16 columns of the other rows.
  scalar_tiles(src + rows16, col_stride, dst + rows16 * cols, cols, rows - rows16, cols);
  scalar_tiles(src + cols16 * col_stride, col_stride, dst + cols16, cols, rows16, cols - cols16);
}

}  // namespace

LOWBIT_TRANSPOSE_TARGET void cpu::transpose_block_16(const float* src, std::int64_t src_stride, int count,
                                                     float* dst, std::int64_t dst_stride, int width) {
  const __mmask16 valid = static_cast<__mmask16>((1u << count) - 1u);
  const __mmask16 stored = static_cast<__mmask16>((1u << width) - 1u);
  __m512 v[16];
  for (int k = 0; k < 16; ++k) {
    v[k] = (valid >> k) & 1u ? _mm512_loadu_ps(src + k * src_stride) : _mm512_setzero_ps();
  }
  transpose_16x16(v);
  for (int i = 0; i < 16; ++i) _mm512_mask_storeu_ps(dst + i * dst_stride, stored, v[i]);
}

namespace {

#pragma GCC diagnostic pop

template <class T>
void transpose_scalar(const void* src, std::int64_t col_stride, void* dst, std::int64_t rows,
                      std::int64_t cols) {
  scalar_tiles(static_cast<const T*>(src), col_stride, static_cast<T*>(dst), cols, rows, cols);
}

}  // namespace

bool cpu::has_transpose_block_16() {
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  return avx512;
}

void transpose_tiles(const void* src, std::int64_t col_stride, void* dst, std::int64_t rows,
                     std::int64_t cols, std::size_t width) {
  const bool avx512 = cpu::has_transpose_block_16();
  switch (width) {
    case 1:
      return transpose_scalar<std::uint8_t>(src, col_stride, dst, rows, cols);
    case 2:
      return transpose_scalar<std::uint16_t>(src, col_stride, dst, rows, cols);
    case 4:
      // Moves bits only (no arithmetic), so any 4-byte element goes through the float registers.
      if (avx512)
        return transpose_avx512(static_cast<const float*>(src), col_stride, static_cast<float*>(dst), rows,
                                cols);
      return transpose_scalar<std::uint32_t>(src, col_stride, dst, rows, cols);
    default:
      return transpose_scalar<std::uint64_t>(src, col_stride, dst, rows, cols);
  }
}

}  // namespace lowbit::kernels
