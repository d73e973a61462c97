// matmul and linear through kernels/ GEMM (float32 sgemm; bfloat16, float16 and float8 through gemm with fp32
// accumulation) or plain loops (float64, for gradient checks). Operands that are transposed views go to the
// GEMM as transposes, without a copy. The compute dtype comes from the precision policy (autocast: the
// allow list puts matmul, bmm and linear in the low-precision dtype); outputs are in that dtype, as under
// PyTorch's autocast, and float8 products come out in bfloat16.
#include <fmt/format.h>

#include "autocast_dispatch.hpp"
#include "cuda_hooks.hpp"
#include "gemm_2d.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/train/autograd.hpp"
#include "lowbit/train/ops.hpp"
#include "lowbit/train/view_ops.hpp"
#include "strided.hpp"

namespace lowbit::train {

namespace {

using detail::gemm_2d;

void check_matmul(const Tensor& a, const Tensor& b, const char* op) {
  detail::require_same_device(a, b, op);
  const bool a_ok =
      a.dtype() == DType::float32 || a.dtype() == DType::float64 || is_low_precision_float(a.dtype());
  const bool same_width =
      a.dtype() == b.dtype() || (detail::is_float8(a.dtype()) && detail::is_float8(b.dtype()));
  if (!a_ok || !same_width) {
    throw RangeError(
        fmt::format("{}: operands are {} and {}; both must be one float dtype (float8 types may mix)", op,
                    dtype_name(a.dtype()), dtype_name(b.dtype())));
  }
}

Tensor matmul_2d(const Tensor& a, const Tensor& b) {
  if (a.shape()[1] != b.shape()[0]) {
    throw ShapeError(fmt::format("matmul: inner dimensions differ: {} x {}", shape_string(a.shape()),
                                 shape_string(b.shape())));
  }
  Tensor out = empty({a.shape()[0], b.shape()[1]}, detail::gemm_output_type(a.dtype()), a.device());
  gemm_2d(a, b, out, 0.0f);
  return out;
}

// The operands of a backward product: the gradient and the saved operands in one dtype (float8 operands
// are widened to bfloat16, exactly, since the gradient arrives in bfloat16).
DType backward_type(const Tensor& saved) {
  return detail::gemm_output_type(saved.dtype());
}

Tensor matmul_native(const Tensor& a, const Tensor& b) {
  check_matmul(a, b, "matmul");
  if (a.dim() >= 2 && b.dim() == 2) {
    if (a.dim() > 2) {
      // [.., m, k] x [k, n]: one GEMM over the flattened leading dimensions.
      Shape out_shape(a.shape().begin(), a.shape().end() - 1);
      out_shape.push_back(b.shape()[1]);
      return reshape(matmul_native(reshape(a, {-1, a.shape().back()}), b), out_shape);
    }
    Tensor out = matmul_2d(a, b);
    // Only the gradients an input needs are computed (the others are dropped by backward anyway).
    return record(out, "matmul", {a, b},
                  [a = a.detach(), b = b.detach(), need_a = a.requires_grad(),
                   need_b = b.requires_grad()](const Tensor& g) {
                    const DType t = backward_type(a);
                    const Tensor gt = cast(g, t);
                    return std::vector<Tensor>{
                        need_a ? matmul_2d(gt, transpose(cast(b, t), 0, 1)) : Tensor(),
                        need_b ? matmul_2d(transpose(cast(a, t), 0, 1), gt) : Tensor()};
                  });
  }
  if (a.dim() == 3 && b.dim() == 3 && a.shape()[0] == b.shape()[0]) {
    const std::int64_t batch = a.shape()[0];
    if (a.shape()[2] != b.shape()[1]) {
      throw ShapeError(fmt::format("matmul: inner dimensions differ: {} x {}", shape_string(a.shape()),
                                   shape_string(b.shape())));
    }
    Tensor out = empty({batch, a.shape()[1], b.shape()[2]}, detail::gemm_output_type(a.dtype()), a.device());
    // Each batch entry is one 2-D GEMM on views (no copies for row-major or transposed entries).
    auto matrix = [](const Tensor& t, std::int64_t i) {
      return detail::strided_view(t, Shape(t.shape().begin() + 1, t.shape().end()),
                                  Shape(t.strides().begin() + 1, t.strides().end()),
                                  t.offset() + i * t.strides()[0]);
    };
    auto run = [matrix](const Tensor& x, const Tensor& y, const Tensor& o) {
      for (std::int64_t i = 0; i < o.shape()[0]; ++i) {
        Tensor oi = matrix(o, i);
        gemm_2d(matrix(x, i), matrix(y, i), oi, 0.0f);
      }
    };
    run(a, b, out);
    return record(out, "bmm", {a, b},
                  [a = a.detach(), b = b.detach(), run, need_a = a.requires_grad(),
                   need_b = b.requires_grad()](const Tensor& g) {
                    const DType t = backward_type(a);
                    const Tensor gt = cast(g, t);
                    Tensor ga, gb;
                    if (need_a) {
                      ga = empty(a.shape(), t, a.device());
                      run(gt, transpose(cast(b, t), 1, 2), ga);
                    }
                    if (need_b) {
                      gb = empty(b.shape(), t, a.device());
                      run(transpose(cast(a, t), 1, 2), gt, gb);
                    }
                    return std::vector<Tensor>{ga, gb};
                  });
  }
  throw ShapeError(
      fmt::format("matmul: shapes {} and {} are not [m,k]x[k,n], [..,m,k]x[k,n] or [b,m,k]x[b,k,n]",
                  shape_string(a.shape()), shape_string(b.shape())));
}

Tensor linear_native(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_matmul(x, weight, "linear");
  if (weight.dim() != 2 || x.dim() < 1 || x.shape().back() != weight.shape()[1]) {
    throw ShapeError(fmt::format("linear: input {} does not fit weight {} ([out, in])",
                                 shape_string(x.shape()), shape_string(weight.shape())));
  }
  if (bias.defined() &&
      (bias.shape() != Shape{weight.shape()[0]} || bias.dtype() != detail::gemm_output_type(x.dtype()))) {
    throw ShapeError(fmt::format("linear: bias {} ({}) does not fit weight {} ({})",
                                 shape_string(bias.shape()), dtype_name(bias.dtype()),
                                 shape_string(weight.shape()), dtype_name(weight.dtype())));
  }
  if (x.dim() != 2) {
    Shape out_shape(x.shape().begin(), x.shape().end() - 1);
    out_shape.push_back(weight.shape()[0]);
    return reshape(linear_native(reshape(x, {-1, x.shape().back()}), weight, bias), out_shape);
  }
  const std::int64_t n = x.shape()[0], out_features = weight.shape()[0];
  Tensor out = empty({n, out_features}, detail::gemm_output_type(x.dtype()), x.device());
  if (detail::computes_natively(x.dtype())) {
    float beta = 0.0f;
    if (bias.defined()) {
      // The bias goes in as C with beta = 1, so the GEMM adds it in its epilogue pass.
      copy_into(out, expand(bias.detach(), {n, out_features}));
      beta = 1.0f;
    }
    gemm_2d(x, transpose(weight.detach(), 0, 1), out, beta);
  } else {
    // Low precision: the epilogue adds the bias to the fp32 accumulator before the one rounding.
    const Tensor bias32 = bias.defined() ? cast(bias.detach(), DType::float32) : Tensor();
    gemm_2d(x, transpose(weight.detach(), 0, 1), out, 0.0f,
            bias32.defined() ? bias32.data<float>() : nullptr);
  }
  // The input's gradient is skipped where it needs none (a model's first layer: dX there was a quarter of
  // the MLP's backward GEMM work).
  return record(
      out, "linear", {x, weight, bias},
      [x = x.detach(), w = weight.detach(), need_x = x.requires_grad(), need_w = weight.requires_grad(),
       need_b = bias.defined() && bias.requires_grad()](const Tensor& g) {
        const DType t = backward_type(x);
        const Tensor gt = cast(g, t);
        Tensor gx = need_x ? matmul_2d(gt, cast(w, t)) : Tensor();
        Tensor gw = need_w ? matmul_2d(transpose(gt, 0, 1), cast(x, t)) : Tensor();
        Tensor gb = need_b ? sum(gt, {0}) : Tensor();
        return std::vector<Tensor>{gx, gw, gb};
      });
}

}  // namespace

// GEMM ops cast their inputs to the compute dtype and run in it (no float32 detour: the GEMM reads the
// low-precision operands and accumulates in fp32).
Tensor matmul(const Tensor& a, const Tensor& b) {
  const bool batched = a.dim() == 3 && b.dim() == 3;
  const DType t = detail::op_compute_type(batched ? "bmm" : "matmul", {&a, &b});
  return matmul_native(detail::to_compute_type(a, t), detail::to_compute_type(b, t));
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  if (const PrecisionPolicy* policy = current_precision_policy(); policy && x.dim() >= 1) {
    const Tensor x2 = x.dim() == 2 ? x : reshape(x, {-1, x.shape().back()});
    if (Tensor out = policy->run_linear(x2, weight, bias); out.defined()) {
      Shape out_shape(x.shape().begin(), x.shape().end() - 1);
      out_shape.push_back(weight.shape()[0]);
      return x.dim() == 2 ? out : reshape(out, out_shape);
    }
  }
  const DType t = detail::op_compute_type("linear", {&x, &weight, &bias});
  // The bias joins the output's dtype (bfloat16 for float8 products), not the float8 operands'.
  return linear_native(detail::to_compute_type(x, t), detail::to_compute_type(weight, t),
                       detail::to_compute_type(bias, detail::gemm_output_type(t)));
}

}  // namespace lowbit::train
