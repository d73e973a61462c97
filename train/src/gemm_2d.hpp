// Internal: one 2-D product on tensors, shared by matmul/linear and conv2d. float32 goes to kernels/ sgemm;
// float64 (the gradient-check dtype) runs plain loops.
#pragma once

#include "lowbit/train/tensor.hpp"

namespace lowbit::train::detail {

// out[m, n] = a[m, k] * b[k, n] + beta * out (beta 0 or 1). `a` and `b` may be transposed views (they reach
// the GEMM as transposes, without a copy); `out` must have unit column stride.
void gemm_2d(const Tensor& a, const Tensor& b, Tensor& out, float beta);

}  // namespace lowbit::train::detail
