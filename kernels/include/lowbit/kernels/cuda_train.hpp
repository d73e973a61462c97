// The device kernels behind train/'s CUDA tensors (DESIGN.md section 2: raw pointers, strides and dtypes
// here, tensors and autograd in train/src/cuda). Every pointer is a device pointer; every launch runs on the
// default stream, in order with the GEMMs and conversions of cuda.hpp, and is checked. Float arithmetic is
// fp32 (reductions accumulate in fp64, as the CPU ops do); narrower dtypes are widened first (widen_to_f32)
// and narrowed through cuda::convert. This header needs no CUDA headers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lowbit/formats/dtype.hpp"
#include "lowbit/kernels/gemm.hpp"

namespace lowbit::kernels::cuda {

// Up to kMaxDims dimensions; callers merge or reject more.
inline constexpr int kMaxDims = 6;

// The iteration space of an elementwise kernel: `dims` extents and, per operand (0: the output, then the
// inputs), a stride in elements for each (0 where an input broadcasts).
struct Layout {
  int dims = 0;
  std::int64_t shape[kMaxDims] = {};
  std::int64_t strides[3][kMaxDims] = {};
};

enum class UnaryOp : std::uint8_t {
  add_scalar,
  mul_scalar,
  relu,
  gelu_tanh,
  tanh,
  sigmoid,
  exp,
  log,
  pow,
  sqrt
};
// The *_backward ops take (gradient, saved tensor): relu/tanh/sigmoid/sqrt the forward's output, gelu/pow
// its input (pow's exponent is `scalar`).
enum class BinaryOp : std::uint8_t {
  add,
  sub,
  mul,
  div,
  relu_backward,
  gelu_backward,
  tanh_backward,
  sigmoid_backward,
  pow_backward,
  sqrt_backward
};

// out = op(in, scalar) over `layout` (operands 0: out, 1: in); float32.
void unary_f32(UnaryOp op, float scalar, const Layout& layout, float* out, const float* in);
// out = op(a, b) over `layout` (operands 0: out, 1: a, 2: b); float32.
void binary_f32(BinaryOp op, float scalar, const Layout& layout, float* out, const float* a, const float* b);
// out = in over `layout` (operands 0: out, 1: in), for elements of 1, 2, 4 or 8 bytes.
void copy_strided(std::size_t element_bytes, const Layout& layout, void* out, const void* in);

// out[kept] = sum over the reduced dimensions of in, accumulated in fp64. The kept dimensions (`kept`:
// extents and input strides) enumerate the contiguous output row-major; the reduced ones are summed.
struct Reduction {
  int kept_dims = 0, reduced_dims = 0;
  std::int64_t kept_shape[kMaxDims] = {}, kept_strides[kMaxDims] = {};
  std::int64_t reduced_shape[kMaxDims] = {}, reduced_strides[kMaxDims] = {};
};
void sum_f32(const Reduction& reduction, float* out, const float* in);

// dst[i] = src[i] widened exactly to float32; from: bfloat16, float16, float8_e4m3fn, float8_e5m2.
void widen_to_f32(const void* src, DType from, float* dst, std::size_t count);
void fill_f32(float* dst, float value, std::size_t count);

// Convolution as GEMMs: im2col writes the patches of x [n, c, h, w] (elements of `element_bytes`: 1, 2 or 4)
// as rows [n * oh * ow, c * kh * kw] (zero where the window leaves the padded image); col2im sums such rows
// of float32 gradients back into dx [n, c, h, w] (each input gathers its taps: no atomics, deterministic).
struct ConvShape {
  std::int64_t n, c, h, w, kh, kw, stride, padding, oh, ow;
};
void im2col_rows(std::size_t element_bytes, const ConvShape& shape, const void* x, void* rows);
void col2im_rows_f32(const ConvShape& shape, const float* rows, float* dx);

// Max pooling over `planes` planes of h x w (windows kernel x kernel, stride `stride`): out and the flat
// index of each window's first largest element (NaN counts as largest); the backward adds each gradient
// to its argmax (dx is zeroed first).
void max_pool2d_f32(const float* x, std::int64_t planes, std::int64_t h, std::int64_t w, std::int64_t kernel,
                    std::int64_t stride, std::int64_t oh, std::int64_t ow, float* out, std::int32_t* argmax);
void max_pool2d_backward_f32(const float* grad, const std::int32_t* argmax, std::int64_t planes,
                             std::int64_t h, std::int64_t w, std::int64_t oh, std::int64_t ow, float* dx);

// Mean cross-entropy of logits [n, classes] against labels [n]: *loss and the softmax rows `probs` (kept for
// the backward). A label outside [0, classes) makes the loss NaN. The backward writes
// grad = (probs - onehot) * (*seed) / n, reading the seed gradient on the device (no host round trip).
void cross_entropy_f32(const float* logits, const std::int32_t* labels, std::int64_t n, std::int64_t classes,
                       float* probs, float* loss);
void cross_entropy_backward_f32(const float* probs, const std::int32_t* labels, std::int64_t n,
                                std::int64_t classes, const float* seed, float* grad);

// out[i] = mask[i] ? in[i] * scale : 0 (inverted dropout; the mask is drawn on the host).
void masked_scale_f32(const float* in, const std::uint8_t* mask, float scale, std::size_t count, float* out);

// Optimizer updates on float32 parameters; the gradient (float32, bfloat16 or float16) is widened and
// multiplied by `multiplier` (1 / loss scale and clipping) first, as the CPU optimizers do.
struct AdamStep {
  float beta1, beta2, l2, step_size, bias2_sqrt, eps, decay;  // decay: 1 - lr * wd (AdamW), else 1
};
void adam_update(float* param, const void* grad, DType grad_type, float multiplier, float* exp_avg,
                 float* exp_avg_sq, std::size_t count, const AdamStep& step);
struct SgdStep {
  float lr, weight_decay, momentum;
  bool first, nesterov;
};
void sgd_update(float* param, const void* grad, DType grad_type, float multiplier, float* momentum_buffer,
                std::size_t count, const SgdStep& step);

// Reductions whose result the host reads once for many tensors: *sum += sum of squares (fp64), and
// *nonfinite |= any element inf or NaN (float32, bfloat16, float16, float8 types).
void add_sum_squares(const void* data, DType type, std::size_t count, double* sum);
void flag_nonfinite(const void* data, DType type, std::size_t count, unsigned* nonfinite);
// *amax = max(*amax, max |x|) with NaN skipped (the fp8 recipe's amax); *amax must start non-negative.
void abs_max(const void* data, DType type, std::size_t count, float* amax);

// cuBLAS (the reference and the fallback, `lowbit train --gemm cublas`), in cuda::gemm's shape: row-major
// A, B, C with transposes; float32 (no TF32), bfloat16 or float16 inputs (both the same), C float32 or the
// inputs' type, fp32 accumulation. Epilogue: alpha, beta, and bias (C is first filled with the broadcast
// bias, so only with beta 0) and relu (a pass over C afterwards); no row/column scales.
void gemm_cublas(std::int64_t m, std::int64_t n, std::int64_t k, const MatrixIn& a, const MatrixIn& b,
                 const MatrixOut& c, const Epilogue& epilogue = {});

}  // namespace lowbit::kernels::cuda
