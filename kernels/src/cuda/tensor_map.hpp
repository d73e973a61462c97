// TMA tensor maps for the wgmma GEMM's operands (cuTensorMapEncodeTiled, reached through the runtime's
// driver entry point so lowbit needs no link to libcuda).
#pragma once

#include <cuda.h>

#include <cstdint>

namespace lowbit::kernels::cuda {

// A rows x k K-major matrix of 1- or 2-byte elements (row stride ld elements), loaded in boxes of
// box_k x box_rows with 128-byte swizzling; elements outside the matrix read as zero.
CUtensorMap make_tensor_map_k_major(const void* data, std::int64_t rows, std::int64_t k, std::int64_t ld,
                                    int element_bytes, int box_k, int box_rows);

}  // namespace lowbit::kernels::cuda
