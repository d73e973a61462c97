// Out-of-place transposes: the tiled copy behind train/'s copy_into when a view's last two dimensions are
// swapped (a transposed view made contiguous: GEMM operands, conv2d's channels-last gradient).
#pragma once

#include <cstddef>
#include <cstdint>

namespace lowbit::kernels {

// dst[r * cols + c] = src[r + c * col_stride] for r < rows, c < cols, elements of `width` bytes (1, 2, 4 or
// 8). 4-byte elements go through 16 x 16 register transposes when the CPU has AVX-512, the rest through
// 32 x 32 tiles of scalar copies (both sides of a tile stay in L1).
void transpose_tiles(const void* src, std::int64_t col_stride, void* dst, std::int64_t rows,
                     std::int64_t cols, std::size_t width);

}  // namespace lowbit::kernels
