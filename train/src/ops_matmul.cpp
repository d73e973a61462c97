// matmul and linear through kernels/ GEMM (float32) or plain loops (float64, for gradient checks). Operands
// that are transposed views go to the GEMM as transposes, without a copy.
#include <fmt/format.h>

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
  detail::require_cpu(a, op);
  detail::require_cpu(b, op);
  if (a.dtype() != b.dtype() || (a.dtype() != DType::float32 && a.dtype() != DType::float64)) {
    throw RangeError(fmt::format("{}: operands are {} and {}; both must be float32 or both float64", op,
                                 dtype_name(a.dtype()), dtype_name(b.dtype())));
  }
}

Tensor matmul_2d(const Tensor& a, const Tensor& b) {
  if (a.shape()[1] != b.shape()[0]) {
    throw ShapeError(fmt::format("matmul: inner dimensions differ: {} x {}", shape_string(a.shape()),
                                 shape_string(b.shape())));
  }
  Tensor out = empty({a.shape()[0], b.shape()[1]}, a.dtype());
  gemm_2d(a, b, out, 0.0f);
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_matmul(a, b, "matmul");
  if (a.dim() >= 2 && b.dim() == 2) {
    if (a.dim() > 2) {
      // [.., m, k] x [k, n]: one GEMM over the flattened leading dimensions.
      Shape out_shape(a.shape().begin(), a.shape().end() - 1);
      out_shape.push_back(b.shape()[1]);
      return reshape(matmul(reshape(a, {-1, a.shape().back()}), b), out_shape);
    }
    Tensor out = matmul_2d(a, b);
    return record(out, "matmul", {a, b}, [a = a.detach(), b = b.detach()](const Tensor& g) {
      return std::vector<Tensor>{matmul_2d(g, transpose(b, 0, 1)), matmul_2d(transpose(a, 0, 1), g)};
    });
  }
  if (a.dim() == 3 && b.dim() == 3 && a.shape()[0] == b.shape()[0]) {
    const std::int64_t batch = a.shape()[0];
    if (a.shape()[2] != b.shape()[1]) {
      throw ShapeError(fmt::format("matmul: inner dimensions differ: {} x {}", shape_string(a.shape()),
                                   shape_string(b.shape())));
    }
    Tensor out = empty({batch, a.shape()[1], b.shape()[2]}, a.dtype());
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
    return record(out, "bmm", {a, b}, [a = a.detach(), b = b.detach(), run](const Tensor& g) {
      Tensor ga = empty(a.shape(), a.dtype()), gb = empty(b.shape(), b.dtype());
      run(g, transpose(b, 1, 2), ga);
      run(transpose(a, 1, 2), g, gb);
      return std::vector<Tensor>{ga, gb};
    });
  }
  throw ShapeError(
      fmt::format("matmul: shapes {} and {} are not [m,k]x[k,n], [..,m,k]x[k,n] or [b,m,k]x[b,k,n]",
                  shape_string(a.shape()), shape_string(b.shape())));
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_matmul(x, weight, "linear");
  if (weight.dim() != 2 || x.dim() < 1 || x.shape().back() != weight.shape()[1]) {
    throw ShapeError(fmt::format("linear: input {} does not fit weight {} ([out, in])",
                                 shape_string(x.shape()), shape_string(weight.shape())));
  }
  if (bias.defined() && (bias.shape() != Shape{weight.shape()[0]} || bias.dtype() != x.dtype())) {
    throw ShapeError(fmt::format("linear: bias {} does not fit weight {}", shape_string(bias.shape()),
                                 shape_string(weight.shape())));
  }
  if (x.dim() != 2) {
    Shape out_shape(x.shape().begin(), x.shape().end() - 1);
    out_shape.push_back(weight.shape()[0]);
    return reshape(linear(reshape(x, {-1, x.shape().back()}), weight, bias), out_shape);
  }
  const std::int64_t n = x.shape()[0], out_features = weight.shape()[0];
  Tensor out = empty({n, out_features}, x.dtype());
  float beta = 0.0f;
  if (bias.defined()) {
    // The bias goes in as C with beta = 1, so the GEMM adds it in its epilogue pass.
    copy_into(out, expand(bias.detach(), {n, out_features}));
    beta = 1.0f;
  }
  gemm_2d(x, transpose(weight.detach(), 0, 1), out, beta);
  return record(out, "linear", {x, weight, bias},
                [x = x.detach(), w = weight.detach(), has_bias = bias.defined()](const Tensor& g) {
                  Tensor gx = matmul_2d(g, w);
                  Tensor gw = matmul_2d(transpose(g, 0, 1), x);
                  Tensor gb = has_bias ? sum(g, {0}) : Tensor();
                  return std::vector<Tensor>{gx, gw, gb};
                });
}

}  // namespace lowbit::train
