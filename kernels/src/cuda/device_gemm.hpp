// What the CUDA GEMM launchers receive from cuda::gemm() (gemm_cuda.cpp): validated arguments with both
// operands K-major, and the epilogue in device terms. Shared by the host code (g++) and the kernels (nvcc),
// so it holds plain data only.
#pragma once

#include <cuda.h>

#include <cstdint>

#include "lowbit/formats/dtype.hpp"

namespace lowbit::kernels::cuda {

enum class OutType : std::uint8_t { f32, bf16, f16, i32 };

// Which tensor-core instruction family multiplies the operands (A type x B type).
enum class Operands : std::uint8_t { bf16, f16, e4m3_e4m3, e4m3_e5m2, e5m2_e4m3, s8_s8 };

struct DeviceEpilogue {
  float alpha = 1.0f, beta = 0.0f;
  const float* row_scale = nullptr;  // m entries or null
  const float* col_scale = nullptr;  // n entries or null
  const float* bias = nullptr;       // n entries or null
  int activation = 0;                // kernels::Activation
  void* c = nullptr;
  std::int64_t ldc = 0;
  OutType out = OutType::f32;
  bool exact_int = false;  // int32 C gets the exact (wrapping) sum, plus C when beta is 1
  bool pairs = false;      // C aligned so that columns j, j + 1 (j even) can be stored as one access
  bool plain = false;      // alpha alone: no scales, bias, beta or activation (the common case, kept short)
  bool vector16 = false;   // plain, bf16 / fp16 C, 16-byte aligned rows: 16-byte stores
};

// `rows` rows of k elements, row r at data + r * ld elements. For the TMA path, data is 16-byte aligned and
// ld times the element size a multiple of 16 bytes.
struct KMajor {
  const void* data = nullptr;
  std::int64_t rows = 0, ld = 0;
  // Block scaling: scale[(row / span) * ceil(k / 128) + p / 128], or null.
  const float* block_scale = nullptr;
  int block_span = 1;
};

struct DeviceGemm {
  std::int64_t m = 0, n = 0, k = 0;
  KMajor a, b;  // A: m x k, B: n x k (op(B) transposed)
  Operands operands = Operands::bf16;
  DeviceEpilogue epilogue;
  void* stream = nullptr;
};

inline bool is_block_scaled(const DeviceGemm& g) {
  return g.a.block_scale != nullptr;
}
constexpr int operand_bytes(Operands o) {
  return o == Operands::bf16 || o == Operands::f16 ? 2 : 1;
}

// The TMA box the wgmma kernel loads per stage: 128 bytes of K, and the tile's rows of A and B.
struct WgmmaBoxes {
  int k_elements, rows_a, rows_b;
};
WgmmaBoxes wgmma_boxes(const DeviceGemm& g);

void launch_gemm_wgmma(const DeviceGemm& g, const CUtensorMap& map_a, const CUtensorMap& map_b,
                       int multiprocessors);
void launch_gemm_mma_sync(const DeviceGemm& g);

// dst (rows x ld_dst, K-major, zero beyond k) <- src, where src element (r, p) is at
// src + (r * row_stride + p * k_stride) elements of `element_bytes` (1 or 2).
void launch_pack_k_major(void* dst, std::int64_t ld_dst, const void* src, std::int64_t rows, std::int64_t k,
                         std::int64_t row_stride, std::int64_t k_stride, int element_bytes, void* stream);

}  // namespace lowbit::kernels::cuda
