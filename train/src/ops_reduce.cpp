// Reductions (sum, mean), their inverse expand, and sum_to for the backward of broadcasting.
#include <fmt/format.h>

#include <algorithm>

#include "autocast_dispatch.hpp"
#include "cuda_hooks.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/train/autograd.hpp"
#include "lowbit/train/ops.hpp"
#include "lowbit/train/view_ops.hpp"
#include "strided.hpp"

namespace lowbit::train {

namespace {

// Normalised, sorted, unique axes; empty input means every axis.
std::vector<std::int64_t> normalize_axes(const Tensor& a, std::vector<std::int64_t> axes, const char* op) {
  const std::int64_t n = a.dim();
  if (axes.empty()) {
    for (std::int64_t d = 0; d < n; ++d) axes.push_back(d);
    return axes;
  }
  for (auto& axis : axes) {
    const std::int64_t d = axis < 0 ? axis + n : axis;
    if (d < 0 || d >= n) {
      throw ShapeError(
          fmt::format("{}: axis {} is out of range for shape {}", op, axis, shape_string(a.shape())));
    }
    axis = d;
  }
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  return axes;
}

// Sums `a` over `axes`, keeping them as extent-1 dimensions. Accumulates in double, so float32 sums of long
// rows do not drift.
Tensor sum_keepdim(const Tensor& a, const std::vector<std::int64_t>& axes) {
  if (detail::on_cuda(a)) return detail::cuda_ops().sum_keepdim(a, axes);
  detail::require_cpu(a, "sum");
  Shape out_shape = a.shape();
  for (std::int64_t d : axes) out_shape[static_cast<std::size_t>(d)] = 1;
  Tensor out = empty(out_shape, a.dtype());
  // The output seen with the input's shape: stride 0 on the summed axes.
  Shape out_strides = out.strides();
  for (std::int64_t d : axes) out_strides[static_cast<std::size_t>(d)] = 0;
  std::vector<double> acc(static_cast<std::size_t>(out.numel()), 0.0);
  // Threads take disjoint ranges of the first kept axis (if any has two or more entries): each output is
  // summed by one thread in the serial order, so the result does not depend on the thread count.
  std::size_t split = a.shape().size();
  for (std::size_t d = 0; d < a.shape().size(); ++d) {
    if (out_strides[d] != 0 && a.shape()[d] >= 2) {
      split = d;
      break;
    }
  }
  detail::dispatch_float(a.dtype(), "sum", [&](auto tag) {
    using T = decltype(tag);
    // Sums the part of `a` at index [begin, end) of axis `split` (all of it when there is none).
    auto sum_part = [&](std::int64_t begin, std::int64_t end) {
      Shape part = a.shape();
      std::int64_t in_offset = 0, acc_offset = 0;
      if (split < part.size()) {
        part[split] = end - begin;
        in_offset = begin * a.strides()[split];
        acc_offset = begin * out_strides[split];
      }
      const T* x = a.data<T>() + in_offset;
      double* acc_base = acc.data() + acc_offset;
      detail::for_each_run<2>(
          part, {out_strides, a.strides()},
          [&](std::array<std::int64_t, 2> off, std::int64_t n, std::array<std::int64_t, 2> st) {
            if (st[0] == 0 && st[1] == 1) {
              // A contiguous run summed into one value: eight running sums, so the loop vectorises and
              // the adds do not wait on each other (one sum serialises on the add latency).
              constexpr std::int64_t kLanes = 8;
              double lanes[kLanes] = {};
              const T* px = x + off[1];
              std::int64_t i = 0;
              for (; i + kLanes <= n; i += kLanes) {
                for (std::int64_t l = 0; l < kLanes; ++l) lanes[l] += px[i + l];
              }
              double s = 0;
              for (; i < n; ++i) s += px[i];
              for (const double lane : lanes) s += lane;
              acc_base[off[0]] += s;
            } else if (st[0] == 0) {
              double s = 0;
              for (std::int64_t i = 0; i < n; ++i) s += x[off[1] + i * st[1]];
              acc_base[off[0]] += s;
            } else if (st[0] == 1 && st[1] == 1) {  // column sums of a row-major matrix: vectorises
              double* a = acc_base + off[0];
              const T* px = x + off[1];
              for (std::int64_t i = 0; i < n; ++i) a[i] += px[i];
            } else {
              for (std::int64_t i = 0; i < n; ++i) {
                acc_base[off[0] + i * st[0]] += x[off[1] + i * st[1]];
              }
            }
          });
    };
    if (split == a.shape().size()) {
      sum_part(0, 1);
    } else {
      const std::int64_t slice = a.numel() / a.shape()[split];
      detail::parallel_items(
          a.shape()[split], sum_part,
          std::max<std::int64_t>(1, (std::int64_t{1} << 15) / std::max<std::int64_t>(slice, 1)));
    }
    T* o = out.data<T>();
    for (std::size_t i = 0; i < acc.size(); ++i) o[i] = static_cast<T>(acc[i]);
  });
  return out;
}

Shape drop_axes(const Shape& shape, const std::vector<std::int64_t>& axes) {
  Shape out;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (!std::binary_search(axes.begin(), axes.end(), static_cast<std::int64_t>(d))) out.push_back(shape[d]);
  }
  return out;
}

}  // namespace

static Tensor sum_native(const Tensor& a, std::vector<std::int64_t> axes_in, bool keepdim) {
  const std::vector<std::int64_t> axes = normalize_axes(a, std::move(axes_in), "sum");
  Tensor out = sum_keepdim(a, axes);
  const Shape kept = out.shape();
  if (!keepdim) out = detail::reshaped_view(out, drop_axes(a.shape(), axes));
  return record(out, "sum", {a}, [shape = a.shape(), kept](const Tensor& g) {
    return std::vector<Tensor>{expand(reshape(g, kept), shape)};
  });
}

Tensor mean(const Tensor& a, std::vector<std::int64_t> axes_in, bool keepdim) {
  const std::vector<std::int64_t> axes = normalize_axes(a, std::move(axes_in), "mean");
  std::int64_t count = 1;
  for (std::int64_t d : axes) count *= a.shape()[static_cast<std::size_t>(d)];
  return mul_scalar(sum(a, axes, keepdim), 1.0 / static_cast<double>(std::max<std::int64_t>(count, 1)));
}

Tensor sum_to(const Tensor& a, const Shape& shape) {
  if (a.shape() == shape) return a;
  const std::size_t lead = a.shape().size() - shape.size();
  std::vector<std::int64_t> axes;
  for (std::size_t d = 0; d < a.shape().size(); ++d) {
    if (d < lead || (shape[d - lead] == 1 && a.shape()[d] != 1)) axes.push_back(static_cast<std::int64_t>(d));
  }
  return reshape(sum(a, axes, true), shape);
}

Tensor expand(const Tensor& a, const Shape& shape) {
  if (a.shape() == shape) return a;
  if (detail::broadcast_shapes(a.shape(), shape, "expand") != shape) {
    throw ShapeError(fmt::format("expand: shape {} does not broadcast to {}", shape_string(a.shape()),
                                 shape_string(shape)));
  }
  Tensor out = clone(detail::strided_view(a, shape, detail::broadcast_strides(a, shape), a.offset()));
  return record(out, "expand", {a},
                [from = a.shape()](const Tensor& g) { return std::vector<Tensor>{sum_to(g, from)}; });
}

// Public entry points: the compute dtype comes from the precision policy (autocast_dispatch.hpp).
Tensor sum(const Tensor& a, std::vector<std::int64_t> axes_in, bool keepdim) {
  return detail::autocast_op(
      "sum", [&](const Tensor& a_) { return sum_native(a_, axes_in, keepdim); }, a);
}

}  // namespace lowbit::train
