// A 16 x 16 register transpose of fp32 (AVX-512, compiled by target attribute in transpose.cpp), for the
// GEMM packing routines: rows of A and columns of B that lie across the packed order (pack_f32-inl.h).
#pragma once

#include <cstdint>

namespace lowbit::kernels::cpu {

// Whether this CPU runs transpose_block_16 (AVX-512F).
bool has_transpose_block_16();

// dst[i * dst_stride + k] = src[k * src_stride + i] for i < 16 and k < width: 16 consecutive elements of each
// of `count` source rows (count <= width <= 16) become `width` elements of 16 destination rows; source rows
// count .. width-1 read as zeros (the packed panels' padding). Nothing past those 16 x width elements is
// read or written.
void transpose_block_16(const float* src, std::int64_t src_stride, int count, float* dst,
                        std::int64_t dst_stride, int width);

}  // namespace lowbit::kernels::cpu
