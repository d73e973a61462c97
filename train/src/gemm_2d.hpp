// Internal: one 2-D product on tensors, shared by matmul/linear and conv2d. float32 goes to kernels/ sgemm;
// bfloat16, float16 and the float8 types go to kernels/ gemm (fp32 accumulation, output rounded once);
// float64 (the gradient-check dtype) runs plain loops.
#pragma once

#include "lowbit/train/tensor.hpp"

namespace lowbit::train::detail {

// out[m, n] = a[m, k] * b[k, n] * alpha + beta * out (+ bias[n] when given; beta 0 or 1). `a` and `b` may be
// transposed views (they reach the GEMM as transposes, without a copy); `out` must have unit column stride.
// Low-precision inputs may write a float32, bfloat16 or float16 `out`.
void gemm_2d(const Tensor& a, const Tensor& b, Tensor& out, float beta, const float* bias = nullptr,
             float alpha = 1.0f);

// The dtype a product of `input` operands produces: float8 products come out in bfloat16 (the GEMM
// accumulates in fp32 and has no float8 output), the others in their own dtype.
DType gemm_output_type(DType input);
bool is_float8(DType dtype);

}  // namespace lowbit::train::detail
