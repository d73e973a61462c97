// Differentiable ops on tensors (forward and backward). Each op computes in the dtype the precision policy
// picks (precision.hpp): without one, the widest dtype of its inputs. float32 is for training, float64 for
// gradient checks; bfloat16 and float16 compute in float32 inside the op and round once to the output, and
// the GEMM ops (matmul, linear) feed bfloat16/float16/float8 straight to kernels/ GEMM (fp32 accumulation).
// Gradients arrive in each input's dtype. Binary ops broadcast as numpy does. Shape errors throw ShapeError
// naming the op and both shapes.
#pragma once

#include <cstdint>
#include <vector>

#include "lowbit/train/tensor.hpp"

namespace lowbit::train {

// ---- elementwise (broadcasting) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add_scalar(const Tensor& a, double s);
Tensor mul_scalar(const Tensor& a, double s);
Tensor neg(const Tensor& a);
Tensor relu(const Tensor& a);
Tensor gelu(const Tensor& a);  // tanh approximation (as GPT-2 and PyTorch's approximate="tanh")
Tensor tanh(const Tensor& a);
Tensor sigmoid(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor pow(const Tensor& a, double exponent);
Tensor sqrt(const Tensor& a);

inline Tensor operator+(const Tensor& a, const Tensor& b) {
  return add(a, b);
}
inline Tensor operator-(const Tensor& a, const Tensor& b) {
  return sub(a, b);
}
inline Tensor operator*(const Tensor& a, const Tensor& b) {
  return mul(a, b);
}
inline Tensor operator/(const Tensor& a, const Tensor& b) {
  return div(a, b);
}

// ---- reductions ----
// Over `axes` (negative counts from the end; empty: all axes).
Tensor sum(const Tensor& a, std::vector<std::int64_t> axes = {}, bool keepdim = false);
Tensor mean(const Tensor& a, std::vector<std::int64_t> axes = {}, bool keepdim = false);
// Sums `a` down to `shape` (the reverse of broadcasting); used by the backward of broadcasting ops.
Tensor sum_to(const Tensor& a, const Shape& shape);
// Materialises `a` broadcast to `shape`. Differentiable.
Tensor expand(const Tensor& a, const Shape& shape);

// ---- linear algebra (through kernels/ GEMM) ----
// [m,k] x [k,n]; batched [b,m,k] x [b,k,n]; [.., m, k] x [k, n] flattens the leading dimensions.
Tensor matmul(const Tensor& a, const Tensor& b);
// x [.., in] times weight [out, in] transposed, plus bias [out] (may be undefined).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

// ---- softmax and losses ----
Tensor softmax(const Tensor& a, std::int64_t axis = -1);
Tensor log_softmax(const Tensor& a, std::int64_t axis = -1);
// Mean cross-entropy of logits [n, classes] against integer labels (int32 tensor [n]); fused log-softmax.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);

}  // namespace lowbit::train
