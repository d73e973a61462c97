// lowbit's GEMM: C = alpha * op(A) * op(B) + beta * C over raw pointers, row-major, with leading dimensions
// and transposes, for every input type of DType (DESIGN.md section 4). The fast paths (kernels/src/cpu)
// are tested against gemm_reference (reference.hpp).
#pragma once

#include <cstdint>

#include "lowbit/formats/dtype.hpp"

namespace lowbit::kernels {

enum class Transpose : bool { no = false, yes = true };

// One input operand: `rows x cols` of op(X) is what the product sees. Element (i, j) of the stored matrix
// is at data[i * ld + j]; with Transpose::yes the product reads its transpose.
struct MatrixIn {
  const void* data = nullptr;
  DType type = DType::float32;
  std::int64_t ld = 0;
  Transpose transpose = Transpose::no;
  // Group-wise quantization (int4 and int8 weights): along K, each run of `group_size` elements of one row of
  // op(A) (one column of op(B)) shares a scale and, optionally, a zero point: value = (code - zero) * scale.
  // Layout: scale[other * groups + p / group_size], groups = ceil(k / group_size), `other` the row index of
  // op(A) or the column index of op(B) (for weights stored N x K, the PyTorch [out, in] shape, this is the
  // natural [out, in / group] array). group_size 0 means no group scales.
  std::int32_t group_size = 0;
  const float* group_scale = nullptr;
  const std::int8_t* group_zero = nullptr;  // null: symmetric (zero point 0)
  // group_span > 1 shares one scale among that many consecutive rows of op(A) (columns of op(B)): the
  // 128 x 128 weight blocks of block-scaled fp8. Then `other` above is other / group_span.
  std::int32_t group_span = 1;
};

struct MatrixOut {
  void* data = nullptr;
  DType type = DType::float32;
  std::int64_t ld = 0;
};

enum class Activation : std::uint8_t { none, relu, gelu_tanh };

// Applied to the fp32 (or int32 -> fp32) accumulator, in this order:
//   acc * alpha * row_scale[i] * col_scale[j]  + beta * C  + bias[j]  -> activation -> rounded to C's type.
struct Epilogue {
  float alpha = 1.0f;
  float beta = 0.0f;
  const float* row_scale = nullptr;  // M entries, or null
  const float* col_scale = nullptr;  // N entries, or null
  const float* bias = nullptr;       // N entries, or null
  Activation activation = Activation::none;
};

// Number of threads the kernels use (default: 2, or fewer if the machine has fewer cores).
void set_num_threads(int threads);
int num_threads();

// C(m x n) = epilogue(op(A)(m x k) * op(B)(k x n)). Throws RangeError naming the argument for a negative
// size, a null pointer with nonzero size, a leading dimension smaller than the row it must hold (in elements,
// also for int4), a group size without scales, or an int4 C.
//   - Integer inputs (int8, uint8, int4, int32) accumulate exactly in int32 (wrapping on overflow); with an
//     int32 C, alpha 1, beta 0 or 1 and no scales, bias or activation, C gets that exact sum. Otherwise the
//     int32 sum is converted to fp32 and goes through the epilogue.
//   - Float inputs accumulate in fp32. bf16, fp16, e4m3fn and e5m2 are exact in fp32 (and fp8 in bf16), so
//     only the accumulation rounds; float64 inputs are rounded to fp32 first.
//   - int4 weights with group scales times bf16 / fp8 / fp32 activations: q - zero is exact, the scale is
//     applied per group in fp32.
// Paths, by CPU (see cpu_path.hpp): AMX tiles for bf16/fp8/int8/int4-weights (Sapphire Rapids), AVX512_BF16
// and AVX512_VNNI register tiles for the same types (Zen 4), an AVX-512 int4 GEMV for m <= 8, and the
// Highway fp32 kernel (inputs widened) everywhere else. AMX and AVX512_BF16 treat bf16 operands below 2^-126
// (subnormal) as zero, as those instructions do; fp8 values are never subnormal in bf16.
void gemm(std::int64_t m, std::int64_t n, std::int64_t k, const MatrixIn& a, const MatrixIn& b,
          const MatrixOut& c, const Epilogue& epilogue = {});

// The BLAS-shaped fp32 call train/ uses: C = alpha * op(A) * op(B) + beta * C (row-major).
void sgemm(Transpose transpose_a, Transpose transpose_b, std::int64_t m, std::int64_t n, std::int64_t k,
           float alpha, const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta,
           float* c, std::int64_t ldc);

}  // namespace lowbit::kernels
