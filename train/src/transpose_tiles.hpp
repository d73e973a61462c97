// Internal: the tiled transpose behind copy_into when a view's last two dimensions are swapped (a transposed
// view made contiguous: gemm_2d's operands, conv2d's channels-last gradient).
#pragma once

#include <cstdint>

namespace lowbit::train::detail {

// dst[r * cols + c] = src[r + c * col_stride] for r < rows, c < cols, elements of `width` bytes (1, 2, 4 or
// 8). 4-byte elements go through 16 x 16 register transposes when the CPU has AVX-512, the rest through
// 32 x 32 tiles of scalar copies (both sides of a tile stay in L1).
void transpose_tiles(const void* src, std::int64_t col_stride, void* dst, std::int64_t rows,
                     std::int64_t cols, std::size_t width);

}  // namespace lowbit::train::detail
