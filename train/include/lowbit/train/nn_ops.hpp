// Differentiable neural-network ops: convolution, pooling, layer normalisation, embedding lookup and
// dropout. Like ops.hpp they compute in the dtype the precision policy picks (without one, the widest input
// dtype; conv2d reads bfloat16/float16/float8 operands in its GEMM); shapes follow PyTorch (images are [N, C,
// H, W]). Bad shapes throw ShapeError and bad values RangeError, naming the op, the argument and what it got.
#pragma once

#include <cstdint>

#include "lowbit/train/random.hpp"
#include "lowbit/train/tensor.hpp"

namespace lowbit::train {

// 2-D cross-correlation (PyTorch's conv2d): x [N, C, H, W], weight [O, C, kh, kw], bias [O] or undefined;
// zero padding on all four sides. Output [N, O, OH, OW] with OH = (H + 2*padding - kh) / stride + 1.
// It runs as one GEMM over an im2col buffer of every image of the batch (in the operands' dtype).
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, std::int64_t stride = 1,
              std::int64_t padding = 0);

// Max / average over kernel x kernel windows of x [N, C, H, W], without padding; stride 0 means `kernel`
// (non-overlapping windows). Output extent (H - kernel) / stride + 1. Max pooling sends each output's
// gradient to the first largest element of its window (NaN counts as largest, so NaNs propagate).
Tensor max_pool2d(const Tensor& x, std::int64_t kernel, std::int64_t stride = 0);
Tensor avg_pool2d(const Tensor& x, std::int64_t kernel, std::int64_t stride = 0);

// Normalises over the last axis (mean 0, biased variance 1: PyTorch's semantics), then scales by weight [D]
// and shifts by bias [D] (either may be undefined).
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);

// Rows of table [V, D] picked by int32 indices of any shape: output [..indices.shape, D]. The gradient of
// the table is scatter-added (repeated indices accumulate). An index outside [0, V) throws RangeError.
Tensor embedding(const Tensor& indices, const Tensor& table);

// Inverted dropout: in training each element is zeroed with probability p and the kept ones are scaled by
// 1 / (1 - p), so the expectation is unchanged. The mask comes from `rng` (one 32-bit draw per element, two
// per next_u64), so restoring the Rng's state replays the same mask. Identity (x itself) when !training or
// p == 0. p outside [0, 1) throws RangeError.
Tensor dropout(const Tensor& x, double p, bool training, Rng& rng = default_rng());

}  // namespace lowbit::train
