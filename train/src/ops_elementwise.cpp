// Elementwise ops: binary arithmetic with numpy broadcasting, and the unary functions of activations.
#include <fmt/format.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <utility>

#include "autocast_dispatch.hpp"
#include "cuda_hooks.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/train/autograd.hpp"
#include "lowbit/train/ops.hpp"
#include "strided.hpp"

namespace lowbit::train {

namespace {

void require_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  if (a.dtype() != b.dtype()) {
    throw RangeError(fmt::format("{}: operands have dtypes {} and {}; cast one first", op,
                                 dtype_name(a.dtype()), dtype_name(b.dtype())));
  }
}

using kernels::cuda::BinaryOp;
using kernels::cuda::UnaryOp;

// What a map runs on CUDA tensors: the device kernel's op and its scalar.
template <class Op>
struct OnCuda {
  Op op;
  double scalar = 0;
};

// out = f(a, b) elementwise over the broadcast shape.
template <class F>
Tensor binary_map(const Tensor& a, const Tensor& b, const char* op, OnCuda<BinaryOp> cuda, F f) {
  if (detail::on_cuda(a) || detail::on_cuda(b))
    return detail::cuda_ops().binary(cuda.op, a, b, cuda.scalar, op);
  detail::require_cpu(a, op);
  detail::require_cpu(b, op);
  require_same_dtype(a, b, op);
  const Shape shape = detail::broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = empty(shape, a.dtype());
  detail::dispatch_float(a.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    const T* x = a.data<T>();
    const T* y = b.data<T>();
    detail::for_each_run<3>(
        shape, {out.strides(), detail::broadcast_strides(a, shape), detail::broadcast_strides(b, shape)},
        [&](std::array<std::int64_t, 3> off, std::int64_t n, std::array<std::int64_t, 3> st) {
          T* po = o + off[0];
          const T* px = x + off[1];
          const T* py = y + off[2];
          // The common cases get loops the compiler vectorises: same shape, and a broadcast operand.
          detail::parallel_items(n, [&](std::int64_t begin, std::int64_t end) {
            if (st[1] == 1 && st[2] == 1) {
              for (std::int64_t i = begin; i < end; ++i) po[i] = f(px[i], py[i]);
            } else if (st[1] == 1 && st[2] == 0) {
              const T v = *py;
              for (std::int64_t i = begin; i < end; ++i) po[i] = f(px[i], v);
            } else if (st[1] == 0 && st[2] == 1) {
              const T v = *px;
              for (std::int64_t i = begin; i < end; ++i) po[i] = f(v, py[i]);
            } else {
              for (std::int64_t i = begin; i < end; ++i) po[i * st[0]] = f(px[i * st[1]], py[i * st[2]]);
            }
          });
        });
  });
  return out;
}

// out = f(a) elementwise.
template <class F>
Tensor unary_map(const Tensor& a, const char* op, OnCuda<UnaryOp> cuda, F f) {
  if (detail::on_cuda(a)) return detail::cuda_ops().unary(cuda.op, a, cuda.scalar, op);
  detail::require_cpu(a, op);
  Tensor out = empty(a.shape(), a.dtype());
  detail::dispatch_float(a.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    const T* x = a.data<T>();
    detail::for_each_run<2>(
        a.shape(), {out.strides(), a.strides()},
        [&](std::array<std::int64_t, 2> off, std::int64_t n, std::array<std::int64_t, 2> st) {
          detail::parallel_items(n, [&](std::int64_t begin, std::int64_t end) {
            if (st[1] == 1) {
              for (std::int64_t i = begin; i < end; ++i) o[off[0] + i] = f(x[off[1] + i]);
            } else {
              for (std::int64_t i = begin; i < end; ++i) o[off[0] + i] = f(x[off[1] + i * st[1]]);
            }
          });
        });
  });
  return out;
}

std::vector<Tensor> grads(Tensor a, Tensor b = {}) {
  return {std::move(a), std::move(b)};
}

// out = f(codes of the inputs) elementwise, for 16-bit float tensors of one shape (CPU): ops whose result
// is exactly one of their inputs' values (or zero) need no float32 detour.
template <class F, class... Ts>
Tensor map_codes16(F f, const Tensor& first, const Ts&... rest) {
  Tensor out = empty(first.shape(), first.dtype());
  auto* o = static_cast<std::uint16_t*>(out.raw_data());
  const std::array<const std::uint16_t*, 1 + sizeof...(Ts)> in{
      static_cast<const std::uint16_t*>(first.raw_data()),
      static_cast<const std::uint16_t*>(rest.raw_data())...};
  detail::for_each_run<2 + sizeof...(Ts)>(
      first.shape(), {out.strides(), first.strides(), rest.strides()...},
      [&](std::array<std::int64_t, 2 + sizeof...(Ts)> off, std::int64_t n,
          std::array<std::int64_t, 2 + sizeof...(Ts)> st) {
        detail::parallel_items(n, [&](std::int64_t begin, std::int64_t end) {
          for (std::int64_t i = begin; i < end; ++i) {
            [&]<std::size_t... I>(std::index_sequence<I...>) {
              o[off[0] + i * st[0]] = f(in[I][off[I + 1] + i * st[I + 1]]...);
            }
            (std::make_index_sequence<1 + sizeof...(Ts)>{});
          }
        });
      });
  return out;
}

}  // namespace

static Tensor add_native(const Tensor& a, const Tensor& b) {
  Tensor out = binary_map(a, b, "add", {BinaryOp::add}, [](auto x, auto y) { return x + y; });
  return record(out, "add", {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g) {
    return grads(sum_to(g, sa), sum_to(g, sb));
  });
}

static Tensor sub_native(const Tensor& a, const Tensor& b) {
  Tensor out = binary_map(a, b, "sub", {BinaryOp::sub}, [](auto x, auto y) { return x - y; });
  return record(out, "sub", {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g) {
    return grads(sum_to(g, sa), sum_to(neg(g), sb));
  });
}

static Tensor mul_native(const Tensor& a, const Tensor& b) {
  Tensor out = binary_map(a, b, "mul", {BinaryOp::mul}, [](auto x, auto y) { return x * y; });
  return record(out, "mul", {a, b}, [a = a.detach(), b = b.detach()](const Tensor& g) {
    return grads(sum_to(mul(g, b), a.shape()), sum_to(mul(g, a), b.shape()));
  });
}

static Tensor div_native(const Tensor& a, const Tensor& b) {
  Tensor out = binary_map(a, b, "div", {BinaryOp::div}, [](auto x, auto y) { return x / y; });
  return record(out, "div", {a, b}, [a = a.detach(), b = b.detach()](const Tensor& g) {
    const Tensor ga = div(g, b);
    // d(a/b)/db = -a / b^2 = -(a/b) / b
    const Tensor gb = neg(div(mul(ga, a), b));
    return grads(sum_to(ga, a.shape()), sum_to(gb, b.shape()));
  });
}

static Tensor add_scalar_native(const Tensor& a, double s) {
  Tensor out = unary_map(a, "add_scalar", {UnaryOp::add_scalar, s},
                         [s](auto x) { return x + static_cast<decltype(x)>(s); });
  return record(out, "add_scalar", {a}, [](const Tensor& g) { return grads(g); });
}

static Tensor mul_scalar_native(const Tensor& a, double s) {
  Tensor out = unary_map(a, "mul_scalar", {UnaryOp::mul_scalar, s},
                         [s](auto x) { return x * static_cast<decltype(x)>(s); });
  return record(out, "mul_scalar", {a}, [s](const Tensor& g) { return grads(mul_scalar(g, s)); });
}

Tensor neg(const Tensor& a) {
  return mul_scalar(a, -1.0);
}

static Tensor relu_native(const Tensor& a) {
  Tensor out = unary_map(a, "relu", {UnaryOp::relu}, [](auto x) { return x > 0 ? x : decltype(x){0}; });
  return record(out, "relu", {a}, [y = out.detach()](const Tensor& g) {
    return grads(binary_map(g, y, "relu backward", {BinaryOp::relu_backward},
                            [](auto gv, auto yv) { return yv > 0 ? gv : decltype(gv){0}; }));
  });
}

namespace {

// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
constexpr double kGeluC = 0.7978845608028654;  // sqrt(2/pi)
constexpr double kGeluA = 0.044715;

template <class T>
T gelu_value(T x) {
  const T u = static_cast<T>(kGeluC) * (x + static_cast<T>(kGeluA) * x * x * x);
  return T(0.5) * x * (T(1) + std::tanh(u));
}

template <class T>
T gelu_derivative(T x) {
  const T u = static_cast<T>(kGeluC) * (x + static_cast<T>(kGeluA) * x * x * x);
  const T t = std::tanh(u);
  const T du = static_cast<T>(kGeluC) * (T(1) + T(3) * static_cast<T>(kGeluA) * x * x);
  return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * du;
}

}  // namespace

static Tensor gelu_native(const Tensor& a) {
  Tensor out = unary_map(a, "gelu", {UnaryOp::gelu_tanh}, [](auto x) { return gelu_value(x); });
  return record(out, "gelu", {a}, [x = a.detach()](const Tensor& g) {
    return grads(binary_map(g, x, "gelu backward", {BinaryOp::gelu_backward},
                            [](auto gv, auto xv) { return gv * gelu_derivative(xv); }));
  });
}

static Tensor tanh_native(const Tensor& a) {
  Tensor out = unary_map(a, "tanh", {UnaryOp::tanh}, [](auto x) { return std::tanh(x); });
  return record(out, "tanh", {a}, [y = out.detach()](const Tensor& g) {
    return grads(binary_map(g, y, "tanh backward", {BinaryOp::tanh_backward},
                            [](auto gv, auto yv) { return gv * (1 - yv * yv); }));
  });
}

static Tensor sigmoid_native(const Tensor& a) {
  Tensor out = unary_map(a, "sigmoid", {UnaryOp::sigmoid}, [](auto x) {
    using T = decltype(x);
    // Split by sign so exp never overflows.
    return x >= 0 ? T(1) / (T(1) + std::exp(-x)) : std::exp(x) / (T(1) + std::exp(x));
  });
  return record(out, "sigmoid", {a}, [y = out.detach()](const Tensor& g) {
    return grads(binary_map(g, y, "sigmoid backward", {BinaryOp::sigmoid_backward},
                            [](auto gv, auto yv) { return gv * yv * (1 - yv); }));
  });
}

static Tensor exp_native(const Tensor& a) {
  Tensor out = unary_map(a, "exp", {UnaryOp::exp}, [](auto x) { return std::exp(x); });
  return record(out, "exp", {a}, [y = out.detach()](const Tensor& g) { return grads(mul(g, y)); });
}

static Tensor log_native(const Tensor& a) {
  Tensor out = unary_map(a, "log", {UnaryOp::log}, [](auto x) { return std::log(x); });
  return record(out, "log", {a}, [x = a.detach()](const Tensor& g) { return grads(div(g, x)); });
}

static Tensor pow_native(const Tensor& a, double exponent) {
  Tensor out = unary_map(a, "pow", {UnaryOp::pow, exponent},
                         [exponent](auto x) { return std::pow(x, static_cast<decltype(x)>(exponent)); });
  return record(out, "pow", {a}, [x = a.detach(), exponent](const Tensor& g) {
    return grads(
        binary_map(g, x, "pow backward", {BinaryOp::pow_backward, exponent}, [exponent](auto gv, auto xv) {
          using T = decltype(xv);
          return gv * static_cast<T>(exponent) * std::pow(xv, static_cast<T>(exponent - 1));
        }));
  });
}

static Tensor sqrt_native(const Tensor& a) {
  Tensor out = unary_map(a, "sqrt", {UnaryOp::sqrt}, [](auto x) { return std::sqrt(x); });
  return record(out, "sqrt", {a}, [y = out.detach()](const Tensor& g) {
    return grads(binary_map(g, y, "sqrt backward", {BinaryOp::sqrt_backward},
                            [](auto gv, auto yv) { return gv / (2 * yv); }));
  });
}

// Public entry points: the compute dtype comes from the precision policy (autocast_dispatch.hpp).
Tensor add(const Tensor& a, const Tensor& b) {
  return detail::autocast_op(
      "add", [&](const Tensor& a_, const Tensor& b_) { return add_native(a_, b_); }, a, b);
}

Tensor sub(const Tensor& a, const Tensor& b) {
  return detail::autocast_op(
      "sub", [&](const Tensor& a_, const Tensor& b_) { return sub_native(a_, b_); }, a, b);
}

Tensor mul(const Tensor& a, const Tensor& b) {
  return detail::autocast_op(
      "mul", [&](const Tensor& a_, const Tensor& b_) { return mul_native(a_, b_); }, a, b);
}

Tensor div(const Tensor& a, const Tensor& b) {
  return detail::autocast_op(
      "div", [&](const Tensor& a_, const Tensor& b_) { return div_native(a_, b_); }, a, b);
}

Tensor add_scalar(const Tensor& a, double s) {
  return detail::autocast_op(
      "add_scalar", [&](const Tensor& a_) { return add_scalar_native(a_, s); }, a);
}

Tensor mul_scalar(const Tensor& a, double s) {
  return detail::autocast_op(
      "mul_scalar", [&](const Tensor& a_) { return mul_scalar_native(a_, s); }, a);
}

// ReLU on bfloat16 / float16 (CPU): the code itself where the value is positive (sign clear, at most
// infinity: not NaN, since NaN > 0 is false), else +0; the same values as through float32, in one pass
// instead of a widening, the op and a narrowing (such conversions around ops were 15% of a bf16 CNN
// training step on Zen 4; this one took 10-13% off it).
static Tensor relu_codes16(const Tensor& a) {
  const std::uint16_t inf = a.dtype() == DType::bfloat16 ? 0x7f80 : 0x7c00;
  Tensor out = map_codes16([inf](std::uint16_t u) { return u <= inf ? u : std::uint16_t{0}; }, a);
  return record(out, "relu", {a}, [y = out.detach()](const Tensor& g) {
    // y > 0 exactly where its code is not +0 (outputs are never negative or NaN).
    const Tensor gy = g.dtype() == y.dtype() ? g : cast(g, y.dtype());
    return grads(map_codes16(
        [](std::uint16_t gv, std::uint16_t yv) { return yv != 0 ? gv : std::uint16_t{0}; }, gy, y));
  });
}

Tensor relu(const Tensor& a) {
  const DType type = detail::op_compute_type("relu", {&a});
  if ((type == DType::bfloat16 || type == DType::float16) && !detail::on_cuda(a))
    return relu_codes16(detail::to_compute_type(a, type));
  return detail::run_in(
      type, [&](const Tensor& a_) { return relu_native(a_); }, a);
}

Tensor gelu(const Tensor& a) {
  return detail::autocast_op(
      "gelu", [&](const Tensor& a_) { return gelu_native(a_); }, a);
}

Tensor tanh(const Tensor& a) {
  return detail::autocast_op(
      "tanh", [&](const Tensor& a_) { return tanh_native(a_); }, a);
}

Tensor sigmoid(const Tensor& a) {
  return detail::autocast_op(
      "sigmoid", [&](const Tensor& a_) { return sigmoid_native(a_); }, a);
}

Tensor exp(const Tensor& a) {
  return detail::autocast_op(
      "exp", [&](const Tensor& a_) { return exp_native(a_); }, a);
}

Tensor log(const Tensor& a) {
  return detail::autocast_op(
      "log", [&](const Tensor& a_) { return log_native(a_); }, a);
}

Tensor pow(const Tensor& a, double exponent) {
  return detail::autocast_op(
      "pow", [&](const Tensor& a_) { return pow_native(a_, exponent); }, a);
}

Tensor sqrt(const Tensor& a) {
  return detail::autocast_op(
      "sqrt", [&](const Tensor& a_) { return sqrt_native(a_); }, a);
}

}  // namespace lowbit::train
