// CudaOps' network ops on device tensors, forward and backward: conv2d as im2col rows times the weight (the
// GEMM adds the bias in its epilogue), max pooling, fused softmax cross-entropy and dropout. The dtype rules
// are the CPU ops' (nn_ops.hpp, ops.hpp): conv2d reads its operands in their dtype and writes the GEMM output
// dtype, the others compute in float32.
#include <fmt/format.h>

#include <cmath>
#include <vector>

#include "../gemm_2d.hpp"
#include "../strided.hpp"
#include "cuda_ops_impl.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/train/autograd.hpp"
#include "lowbit/train/device.hpp"
#include "lowbit/train/ops.hpp"
#include "lowbit/train/view_ops.hpp"

namespace lowbit::train::detail {

namespace kc = kernels::cuda;

namespace {

Tensor device_empty(const Shape& shape, DType dtype) {
  return empty(shape, dtype, Device::cuda);
}

kc::ConvShape conv_shape(const Tensor& x, const Tensor& weight, const Tensor& bias, std::int64_t stride,
                         std::int64_t padding) {
  require_same_device(x, weight, "conv2d");
  require_same_device(x, bias, "conv2d");
  if (x.dim() != 4 || weight.dim() != 4) {
    throw ShapeError(fmt::format("conv2d: input x {} and weight {} must be [N, C, H, W] and [O, C, kh, kw]",
                                 shape_string(x.shape()), shape_string(weight.shape())));
  }
  if (x.dtype() != weight.dtype() || (bias.defined() && bias.dtype() != gemm_output_type(x.dtype()))) {
    throw RangeError(fmt::format("conv2d: x, weight and bias have dtypes {}, {} and {}; they must agree",
                                 dtype_name(x.dtype()), dtype_name(weight.dtype()),
                                 bias.defined() ? dtype_name(bias.dtype()) : "(none)"));
  }
  if (stride < 1) throw RangeError(fmt::format("conv2d: stride {} must be at least 1", stride));
  if (padding < 0) throw RangeError(fmt::format("conv2d: padding {} must not be negative", padding));
  kc::ConvShape s{};
  s.n = x.shape()[0], s.c = x.shape()[1], s.h = x.shape()[2], s.w = x.shape()[3];
  s.kh = weight.shape()[2], s.kw = weight.shape()[3], s.stride = stride, s.padding = padding;
  if (weight.shape()[1] != s.c || s.kh < 1 || s.kw < 1 || s.h + 2 * padding < s.kh ||
      s.w + 2 * padding < s.kw || (bias.defined() && bias.shape() != Shape{weight.shape()[0]})) {
    throw ShapeError(fmt::format(
        "conv2d: weight {} (bias {}) does not fit x {} padded by {}", shape_string(weight.shape()),
        bias.defined() ? shape_string(bias.shape()) : "none", shape_string(x.shape()), padding));
  }
  s.oh = (s.h + 2 * padding - s.kh) / stride + 1;
  s.ow = (s.w + 2 * padding - s.kw) / stride + 1;
  return s;
}

// [n, p, o] rows (the GEMM's layout) <-> [n, o, p] planes (NCHW): one strided copy each way.
void rows_to_planes(const Tensor& rows, const Tensor& planes, std::int64_t n, std::int64_t p,
                    std::int64_t o) {
  cuda_ops().copy(strided_view(planes, {n, p, o}, {o * p, 1, p}, planes.offset()),
                  reshaped_view(rows, {n, p, o}));
}
void planes_to_rows(const Tensor& planes, const Tensor& rows, std::int64_t n, std::int64_t p,
                    std::int64_t o) {
  cuda_ops().copy(strided_view(rows, {n, o, p}, {o * p, 1, o}, rows.offset()),
                  reshaped_view(planes, {n, o, p}));
}

struct ConvSaved {
  kc::ConvShape s;
  Shape x_shape, w_shape;
  Tensor rows;  // im2col of x [n * p, taps], when dW is needed
  Tensor w2;    // weight as [o, taps], when dx is needed
  DType type, bias_type;
  bool need_x, need_w, need_b;
};

std::vector<Tensor> conv2d_backward(const ConvSaved& saved, const Tensor& grad_out) {
  const kc::ConvShape& s = saved.s;
  const std::int64_t o = saved.w_shape[0], p = s.oh * s.ow, np = s.n * p, taps = s.c * s.kh * s.kw;
  // float8 operands are widened to bfloat16 (exactly) to meet the bfloat16 gradient.
  const DType operand_type = is_float8(saved.type) ? DType::bfloat16 : saved.type;
  const DType out_type = gemm_output_type(saved.type);
  const Tensor g = contiguous(train::cast(grad_out, operand_type));
  Tensor g_rows = device_empty({np, o}, operand_type);
  planes_to_rows(g, g_rows, s.n, p, o);
  Tensor gx, gw, gb;
  if (saved.need_b) gb = train::cast(sum(train::cast(g_rows, DType::float32), {0}), saved.bias_type);
  if (saved.need_w) {
    Tensor gw2 = device_empty({o, taps}, out_type);
    gemm_2d(transpose(g_rows, 0, 1), train::cast(saved.rows, operand_type), gw2, 0.0f);
    gw = reshaped_view(gw2, saved.w_shape);
  }
  if (saved.need_x) {
    Tensor dcol = device_empty({np, taps}, DType::float32);
    gemm_2d(g_rows, train::cast(saved.w2, operand_type), dcol, 0.0f);
    Tensor dx = device_empty(saved.x_shape, DType::float32);
    kc::col2im_rows_f32(s, dcol.data<float>(), dx.data<float>());
    gx = train::cast(dx, out_type);
  }
  return {gx, gw, gb};
}

}  // namespace

Tensor CudaOpsImpl::conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, std::int64_t stride,
                           std::int64_t padding) {
  const kc::ConvShape s = conv_shape(x, weight, bias, stride, padding);
  const DType type = x.dtype(), out_type = gemm_output_type(type);
  const std::int64_t o = weight.shape()[0], p = s.oh * s.ow, np = s.n * p, taps = s.c * s.kh * s.kw;
  const Tensor xc = contiguous(x.detach());
  const Tensor w2 = reshaped_view(contiguous(weight.detach()), {o, taps});
  Tensor rows = device_empty({np, taps}, type);
  kc::im2col_rows(dtype_storage_bytes(type, 1), s, xc.raw_data(), rows.raw_data());
  // rows [np, taps] x w2^T [taps, o]: both in the tensor cores' fast layout, the bias in the epilogue.
  const Tensor bias32 = bias.defined() ? contiguous(train::cast(bias.detach(), DType::float32)) : Tensor();
  Tensor out_rows = device_empty({np, o}, out_type);
  gemm_2d(rows, transpose(w2, 0, 1), out_rows, 0.0f, bias32.defined() ? bias32.data<float>() : nullptr);
  Tensor out = device_empty({s.n, o, s.oh, s.ow}, out_type);
  rows_to_planes(out_rows, out, s.n, p, o);
  ConvSaved saved{s,
                  x.shape(),
                  weight.shape(),
                  Tensor(),
                  Tensor(),
                  type,
                  bias.defined() ? bias.dtype() : out_type,
                  x.requires_grad(),
                  weight.requires_grad(),
                  bias.defined() && bias.requires_grad()};
  if (saved.need_w) saved.rows = rows;
  if (saved.need_x) saved.w2 = w2;
  return record(out, "conv2d", {x, weight, bias}, [saved = std::move(saved)](const Tensor& grad_out) {
    return conv2d_backward(saved, grad_out);
  });
}

Tensor CudaOpsImpl::max_pool2d(const Tensor& x, std::int64_t kernel, std::int64_t stride) {
  require_f32(x, "max_pool2d");
  if (x.dim() != 4) {
    throw ShapeError(fmt::format("max_pool2d: input x {} is not [N, C, H, W]", shape_string(x.shape())));
  }
  if (kernel < 1 || stride < 0) {
    throw RangeError(
        fmt::format("max_pool2d: kernel {} must be at least 1 and stride {} not negative", kernel, stride));
  }
  if (stride == 0) stride = kernel;
  const std::int64_t planes = x.shape()[0] * x.shape()[1], h = x.shape()[2], w = x.shape()[3];
  if (h < kernel || w < kernel) {
    throw ShapeError(fmt::format("max_pool2d: kernel {} is larger than the {}x{} planes of x {}", kernel, h,
                                 w, shape_string(x.shape())));
  }
  const std::int64_t oh = (h - kernel) / stride + 1, ow = (w - kernel) / stride + 1;
  const Tensor xc = contiguous(x.detach());
  Tensor out = device_empty({x.shape()[0], x.shape()[1], oh, ow}, DType::float32);
  Tensor argmax = device_empty(out.shape(), DType::int32);
  kc::max_pool2d_f32(xc.data<float>(), planes, h, w, kernel, stride, oh, ow, out.data<float>(),
                     argmax.data<std::int32_t>());
  return record(out, "max_pool2d", {x}, [=, x_shape = x.shape()](const Tensor& grad_out) {
    const Tensor g = contiguous(grad_out);
    Tensor gx = device_empty(x_shape, DType::float32);
    kc::max_pool2d_backward_f32(g.data<float>(), argmax.data<std::int32_t>(), planes, h, w, oh, ow,
                                gx.data<float>());
    return std::vector<Tensor>{gx};
  });
}

Tensor CudaOpsImpl::cross_entropy(const Tensor& logits, const Tensor& labels) {
  require_same_device(logits, labels, "cross_entropy");
  require_f32(logits,
              "cross_entropy");  // shapes and the labels' dtype: checked by the caller (ops_softmax.cpp)
  const std::int64_t n = logits.shape()[0], classes = logits.shape()[1];
  const Tensor x = contiguous(logits.detach());
  const Tensor y = contiguous(labels);
  Tensor probabilities = device_empty(x.shape(), DType::float32);
  Tensor loss = device_empty({}, DType::float32);
  kc::cross_entropy_f32(x.data<float>(), y.data<std::int32_t>(), n, classes, probabilities.data<float>(),
                        loss.data<float>());
  return record(loss, "cross_entropy", {logits, Tensor()},
                [p = probabilities, y, n, classes](const Tensor& g) {
                  const Tensor seed = contiguous(train::cast(g, DType::float32));
                  Tensor grad = device_empty(p.shape(), DType::float32);
                  kc::cross_entropy_backward_f32(p.data<float>(), y.data<std::int32_t>(), n, classes,
                                                 seed.data<float>(), grad.data<float>());
                  return std::vector<Tensor>{grad, Tensor()};
                });
}

Tensor CudaOpsImpl::dropout(const Tensor& x, double p, Rng& rng) {
  require_f32(x, "dropout");
  // The mask is drawn on the host from the same stream as the CPU op (one 32-bit draw per element), so a
  // seed gives the same mask on either device.
  const std::int64_t count = x.numel();
  const auto threshold = static_cast<std::uint64_t>(std::llround(p * 4294967296.0));
  Tensor host_mask = empty(x.shape(), DType::uint8);
  std::uint8_t* m = host_mask.data<std::uint8_t>();
  for (std::int64_t i = 0; i < count; i += 2) {
    const std::uint64_t bits = rng.next_u64();
    m[i] = (bits & 0xffffffffu) >= threshold ? 1 : 0;
    if (i + 1 < count) m[i + 1] = (bits >> 32) >= threshold ? 1 : 0;
  }
  const Tensor mask = to_device(host_mask, Device::cuda);
  const auto scale = static_cast<float>(1.0 / (1.0 - p));
  const Tensor xc = contiguous(x.detach());
  Tensor out = device_empty(x.shape(), DType::float32);
  kc::masked_scale_f32(xc.data<float>(), mask.data<std::uint8_t>(), scale, static_cast<std::size_t>(count),
                       out.data<float>());
  return record(out, "dropout", {x}, [mask, scale](const Tensor& grad_out) {
    const Tensor g = contiguous(train::cast(grad_out, DType::float32));
    Tensor gx = device_empty(g.shape(), DType::float32);
    kc::masked_scale_f32(g.data<float>(), mask.data<std::uint8_t>(), scale,
                         static_cast<std::size_t>(g.numel()), gx.data<float>());
    return std::vector<Tensor>{gx};
  });
}

}  // namespace lowbit::train::detail
