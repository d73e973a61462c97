// softmax, log_softmax and the fused cross-entropy, row by row along the last axis (other axes are moved
// there by a transpose).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "autocast_dispatch.hpp"
#include "cuda_hooks.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/train/autograd.hpp"
#include "lowbit/train/ops.hpp"
#include "lowbit/train/view_ops.hpp"
#include "strided.hpp"

namespace lowbit::train {

namespace {

// Calls f(row_in, row_out, length) for every row of a contiguous tensor along its last axis.
template <class T, class F>
void for_each_row(const Tensor& in, Tensor& out, F f) {
  const std::int64_t length = in.shape().back();
  const std::int64_t rows = length == 0 ? 0 : in.numel() / length;
  const T* x = in.data<T>();
  T* y = out.data<T>();
  for (std::int64_t r = 0; r < rows; ++r) f(x + r * length, y + r * length, length);
}

// max and log(sum(exp(x - max))) of a row, in double.
template <class T>
std::pair<double, double> row_max_logsum(const T* x, std::int64_t n) {
  double m = -INFINITY;
  for (std::int64_t i = 0; i < n; ++i) m = std::max(m, static_cast<double>(x[i]));
  double s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(x[i]) - m);
  return {m, std::log(s)};
}

Tensor softmax_last(const Tensor& a_in, bool log_space) {
  detail::require_cpu(a_in, "softmax");
  const Tensor a = contiguous(a_in.detach());
  Tensor out = empty(a.shape(), a.dtype());
  detail::dispatch_float(a.dtype(), "softmax", [&](auto tag) {
    using T = decltype(tag);
    for_each_row<T>(a, out, [log_space](const T* x, T* y, std::int64_t n) {
      const auto [m, logsum] = row_max_logsum(x, n);
      for (std::int64_t i = 0; i < n; ++i) {
        const double v = static_cast<double>(x[i]) - m - logsum;
        y[i] = static_cast<T>(log_space ? v : std::exp(v));
      }
    });
  });
  return out;
}

// Moves `axis` last, applies f, and moves it back.
template <class F>
Tensor along_last(const Tensor& a, std::int64_t axis, F f) {
  const std::int64_t d = axis < 0 ? axis + a.dim() : axis;
  if (d < 0 || d >= a.dim()) {
    throw ShapeError(
        fmt::format("softmax: axis {} is out of range for shape {}", axis, shape_string(a.shape())));
  }
  if (d == a.dim() - 1) return f(a);
  return transpose(f(transpose(a, d, -1)), d, -1);
}

}  // namespace

static Tensor softmax_native(const Tensor& a, std::int64_t axis) {
  return along_last(a, axis, [](const Tensor& x) {
    Tensor y = softmax_last(x, false);
    return record(y, "softmax", {x}, [y = y.detach()](const Tensor& g) {
      return std::vector<Tensor>{mul(y, sub(g, sum(mul(g, y), {-1}, true)))};
    });
  });
}

static Tensor log_softmax_native(const Tensor& a, std::int64_t axis) {
  return along_last(a, axis, [](const Tensor& x) {
    Tensor y = softmax_last(x, true);
    return record(y, "log_softmax", {x}, [y = y.detach()](const Tensor& g) {
      return std::vector<Tensor>{sub(g, mul(exp(y), sum(g, {-1}, true)))};
    });
  });
}

static Tensor cross_entropy_native(const Tensor& logits, const Tensor& labels) {
  // Checked here for both devices.
  if (logits.dim() != 2 || labels.shape() != Shape{logits.shape()[0]}) {
    throw ShapeError(fmt::format("cross_entropy: logits {} and labels {} are not [n, classes] and [n]",
                                 shape_string(logits.shape()), shape_string(labels.shape())));
  }
  check_dtype(labels, DType::int32, "cross_entropy labels");
  if (detail::on_cuda(logits)) return detail::cuda_ops().cross_entropy(logits, labels);
  detail::require_cpu(logits, "cross_entropy");
  const std::int64_t n = logits.shape()[0], classes = logits.shape()[1];
  const Tensor x = contiguous(logits.detach());
  const Tensor y = contiguous(labels);
  const std::int32_t* label = y.data<std::int32_t>();
  for (std::int64_t r = 0; r < n; ++r) {
    if (label[r] < 0 || label[r] >= classes) {
      throw RangeError(
          fmt::format("cross_entropy: label {} of row {} is outside [0, {})", label[r], r, classes));
    }
  }
  // The softmax is kept for backward: (softmax - onehot) / n.
  Tensor probabilities = empty(x.shape(), x.dtype());
  Tensor loss = empty({}, x.dtype());
  detail::dispatch_float(x.dtype(), "cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* pp = probabilities.data<T>();
    double total = 0;
    for (std::int64_t r = 0; r < n; ++r) {
      const T* row = px + r * classes;
      const auto [m, logsum] = row_max_logsum(row, classes);
      total += m + logsum - static_cast<double>(row[label[r]]);
      for (std::int64_t i = 0; i < classes; ++i) {
        pp[r * classes + i] = static_cast<T>(std::exp(static_cast<double>(row[i]) - m - logsum));
      }
    }
    *loss.data<T>() = static_cast<T>(n == 0 ? 0.0 : total / static_cast<double>(n));
  });
  return record(loss, "cross_entropy", {logits, Tensor()}, [p = probabilities, y, n](const Tensor& g) {
    Tensor grad = clone(p);
    detail::dispatch_float(grad.dtype(), "cross_entropy backward", [&](auto tag) {
      using T = decltype(tag);
      T* pg = grad.data<T>();
      const std::int32_t* label = y.data<std::int32_t>();
      const std::int64_t classes = grad.shape()[1];
      const T scale = static_cast<T>(g.item() / static_cast<double>(n));
      for (std::int64_t r = 0; r < n; ++r) pg[r * classes + label[r]] -= T(1);
      for (std::int64_t i = 0; i < grad.numel(); ++i) pg[i] *= scale;
    });
    return std::vector<Tensor>{grad, Tensor()};
  });
}

// Public entry points: the compute dtype comes from the precision policy (autocast_dispatch.hpp).
Tensor softmax(const Tensor& a, std::int64_t axis) {
  return detail::autocast_op(
      "softmax", [&](const Tensor& a_) { return softmax_native(a_, axis); }, a);
}

Tensor log_softmax(const Tensor& a, std::int64_t axis) {
  return detail::autocast_op(
      "log_softmax", [&](const Tensor& a_) { return log_softmax_native(a_, axis); }, a);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& labels) {
  return detail::autocast_op(
      "cross_entropy", [&](const Tensor& logits_) { return cross_entropy_native(logits_, labels); }, logits);
}

}  // namespace lowbit::train
