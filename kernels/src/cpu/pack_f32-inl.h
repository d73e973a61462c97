// Packing for the fp32 GEMM: copies a block of op(A) or op(B) into the order the micro-kernel reads
// (microkernel_f32-inl.h), so its loads are unit-stride, aligned and stay in one cache way per panel,
// whatever the caller's transposes and leading dimensions. Edges are padded with zeros to full panels, so
// the micro-kernel never branches on k or on partial tiles inside its loop.

#if defined(LOWBIT_KERNELS_PACK_F32_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LOWBIT_KERNELS_PACK_F32_INL_H_
#undef LOWBIT_KERNELS_PACK_F32_INL_H_
#else
#define LOWBIT_KERNELS_PACK_F32_INL_H_
#endif

#include <hwy/highway.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "cpu/transpose_block.hpp"

HWY_BEFORE_NAMESPACE();
namespace lowbit::kernels::cpu::HWY_NAMESPACE {

// op(A)[i0 .. i0+mc) x [p0 .. p0+kc) into panels of `mr` rows: panel q holds, for each p, the mr elements of
// rows i0 + q*mr .. (column-major within the panel). A(i, p) = transposed ? a[p*lda + i] : a[i*lda + p].
inline void pack_a_f32(const float* HWY_RESTRICT a, std::int64_t lda, bool transposed, std::int64_t i0,
                       std::int64_t mc, std::int64_t p0, std::int64_t kc, std::size_t mr,
                       float* HWY_RESTRICT out) {
  for (std::int64_t q = 0; q < mc; q += static_cast<std::int64_t>(mr)) {
    const std::int64_t rows = std::min<std::int64_t>(static_cast<std::int64_t>(mr), mc - q);
    if (transposed) {  // each p is a contiguous run of rows
      for (std::int64_t p = 0; p < kc; ++p) {
        const float* src = a + (p0 + p) * lda + i0 + q;
        float* dst = out + p * static_cast<std::int64_t>(mr);
        for (std::int64_t r = 0; r < rows; ++r) dst[r] = src[r];
        for (std::int64_t r = rows; r < static_cast<std::int64_t>(mr); ++r) dst[r] = 0.0f;
      }
    } else {  // each row is contiguous in p: 16 steps of every row at a time through a register transpose
      const float* src = a + (i0 + q) * lda + p0;
      std::int64_t p = 0;
      if (mr <= 16 && has_transpose_block_16()) {
        for (; p + 16 <= kc; p += 16) {
          transpose_block_16(src + p, lda, static_cast<int>(rows), out + p * static_cast<std::int64_t>(mr),
                             static_cast<std::int64_t>(mr), static_cast<int>(mr));
        }
      }
      for (; p < kc; ++p) {
        float* dst = out + p * static_cast<std::int64_t>(mr);
        for (std::int64_t r = 0; r < rows; ++r) dst[r] = src[r * lda + p];
        for (std::int64_t r = rows; r < static_cast<std::int64_t>(mr); ++r) dst[r] = 0.0f;
      }
    }
    out += kc * static_cast<std::int64_t>(mr);
  }
}

// op(B)[p0 .. p0+kc) x [j0 .. j0+nc) into panels of `nr` columns: panel q holds, for each p, the nr
// elements of columns j0 + q*nr .. (row-major within the panel). B(p, j) = transposed ? b[j*ldb + p] :
// b[p*ldb + j].
inline void pack_b_f32(const float* HWY_RESTRICT b, std::int64_t ldb, bool transposed, std::int64_t p0,
                       std::int64_t kc, std::int64_t j0, std::int64_t nc, std::size_t nr,
                       float* HWY_RESTRICT out) {
  const auto width = static_cast<std::int64_t>(nr);
  for (std::int64_t q = 0; q < nc; q += width) {
    const std::int64_t cols = std::min<std::int64_t>(width, nc - q);
    if (!transposed) {  // each p is a contiguous run of columns
      for (std::int64_t p = 0; p < kc; ++p) {
        const float* src = b + (p0 + p) * ldb + j0 + q;
        float* dst = out + p * width;
        if (cols == width) {
          std::memcpy(dst, src, nr * sizeof(float));
        } else {
          for (std::int64_t j = 0; j < cols; ++j) dst[j] = src[j];
          for (std::int64_t j = cols; j < width; ++j) dst[j] = 0.0f;
        }
      }
    } else {  // each column is contiguous in p: 16 steps of 16 columns at a time through a register transpose
      const float* src = b + (j0 + q) * ldb + p0;
      std::int64_t p = 0;
      if (width % 16 == 0 && has_transpose_block_16()) {
        for (; p + 16 <= kc; p += 16) {
          for (std::int64_t j = 0; j < width; j += 16) {
            const auto count = static_cast<int>(std::clamp<std::int64_t>(cols - j, 0, 16));
            transpose_block_16(src + j * ldb + p, ldb, count, out + p * width + j, width, 16);
          }
        }
      }
      for (; p < kc; ++p) {
        float* dst = out + p * width;
        for (std::int64_t j = 0; j < cols; ++j) dst[j] = src[j * ldb + p];
        for (std::int64_t j = cols; j < width; ++j) dst[j] = 0.0f;
      }
    }
    out += kc * width;
  }
}

}  // namespace lowbit::kernels::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
