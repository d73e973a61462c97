// Shape ops: reshape, permute, transpose and slice are views sharing storage; concat copies.
#include <fmt/format.h>

#include <fmt/ranges.h>
#include <algorithm>

#include <numeric>

#include "autocast_dispatch.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/train/autograd.hpp"
#include "lowbit/train/view_ops.hpp"
#include "strided.hpp"

namespace lowbit::train {

namespace {

std::int64_t normalize_axis(std::int64_t axis, std::int64_t dims, const char* op, const Shape& shape) {
  const std::int64_t d = axis < 0 ? axis + dims : axis;
  if (d < 0 || d >= dims) {
    throw ShapeError(fmt::format("{}: axis {} is out of range for shape {}", op, axis, shape_string(shape)));
  }
  return d;
}

}  // namespace

Tensor reshape(const Tensor& a, Shape shape) {
  std::int64_t known = 1;
  std::size_t inferred = shape.size();
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == -1) {
      if (inferred != shape.size()) throw ShapeError("reshape: more than one -1 in the new shape");
      inferred = d;
    } else if (shape[d] < 0) {
      throw ShapeError(fmt::format("reshape: negative extent in {}", shape_string(shape)));
    } else {
      known *= shape[d];
    }
  }
  if (inferred != shape.size()) {
    if (known == 0 || a.numel() % known != 0) {
      throw ShapeError(
          fmt::format("reshape: cannot infer -1 in {} for {} elements", shape_string(shape), a.numel()));
    }
    shape[inferred] = a.numel() / known;
  }
  if (shape_numel(shape) != a.numel()) {
    throw ShapeError(fmt::format("reshape: shape {} ({} elements) does not hold the {} elements of {}",
                                 shape_string(shape), shape_numel(shape), a.numel(),
                                 shape_string(a.shape())));
  }
  if (shape == a.shape()) return a;
  const Tensor c = contiguous(a);  // a copy (recorded) only when `a` is not contiguous
  Tensor out = detail::strided_view(c, shape, contiguous_strides(shape), c.offset());
  return record(out, "reshape", {c},
                [from = c.shape()](const Tensor& g) { return std::vector<Tensor>{reshape(g, from)}; });
}

Tensor flatten(const Tensor& a, std::int64_t start_axis) {
  const std::int64_t start = normalize_axis(start_axis, a.dim(), "flatten", a.shape());
  Shape shape(a.shape().begin(), a.shape().begin() + start);
  shape.push_back(-1);
  return reshape(a, shape);
}

Tensor permute(const Tensor& a, const std::vector<std::int64_t>& order) {
  const std::int64_t n = a.dim();
  if (static_cast<std::int64_t>(order.size()) != n) {
    throw ShapeError(fmt::format("permute: order [{}] does not list the {} axes of {}",
                                 fmt::join(order, ", "), n, shape_string(a.shape())));
  }
  std::vector<std::int64_t> axes(order.size()), inverse(order.size(), -1);
  Shape shape(order.size()), strides(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    const std::int64_t d = normalize_axis(order[i], n, "permute", a.shape());
    if (inverse[static_cast<std::size_t>(d)] != -1) {
      throw ShapeError(fmt::format("permute: axis {} appears twice in [{}]", d, fmt::join(order, ", ")));
    }
    inverse[static_cast<std::size_t>(d)] = static_cast<std::int64_t>(i);
    shape[i] = a.shape()[static_cast<std::size_t>(d)];
    strides[i] = a.strides()[static_cast<std::size_t>(d)];
  }
  Tensor out = detail::strided_view(a, shape, strides, a.offset());
  return record(out, "permute", {a},
                [inverse](const Tensor& g) { return std::vector<Tensor>{permute(g, inverse)}; });
}

Tensor transpose(const Tensor& a, std::int64_t axis0, std::int64_t axis1) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(a.dim()));
  std::iota(order.begin(), order.end(), 0);
  std::swap(order.at(static_cast<std::size_t>(normalize_axis(axis0, a.dim(), "transpose", a.shape()))),
            order.at(static_cast<std::size_t>(normalize_axis(axis1, a.dim(), "transpose", a.shape()))));
  return permute(a, order);
}

Tensor slice(const Tensor& a, std::int64_t axis, std::int64_t start, std::int64_t stop) {
  const auto d = static_cast<std::size_t>(normalize_axis(axis, a.dim(), "slice", a.shape()));
  const std::int64_t extent = a.shape()[d];
  if (start < 0 || stop < start || stop > extent) {
    throw ShapeError(fmt::format("slice: range [{}, {}) is outside axis {} of extent {} (shape {})", start,
                                 stop, axis, extent, shape_string(a.shape())));
  }
  Shape shape = a.shape();
  shape[d] = stop - start;
  Tensor out = detail::strided_view(a, shape, a.strides(), a.offset() + start * a.strides()[d]);
  return record(out, "slice", {a}, [full_shape = a.shape(), d, start](const Tensor& g) {
    Tensor grad = zeros(full_shape, g.dtype(), g.device());
    Shape part = full_shape;
    part[d] = g.shape()[d];
    copy_into(detail::strided_view(grad, part, grad.strides(), start * grad.strides()[d]), g);
    return std::vector<Tensor>{grad};
  });
}

Tensor concat(const std::vector<Tensor>& parts_in, std::int64_t axis) {
  if (parts_in.empty()) throw ShapeError("concat: no tensors to join");
  // concat is on autocast's promote list: the parts join in the widest dtype (or the policy's choice).
  std::vector<DType> types;
  for (const Tensor& p : parts_in) types.push_back(p.dtype());
  const PrecisionPolicy* policy = current_precision_policy();
  const DType t = policy ? policy->compute_type("concat", types) : widest_float_type(types);
  const bool all_float = std::all_of(parts_in.begin(), parts_in.end(), [](const Tensor& p) {
    return p.dtype() == DType::float64 || p.dtype() == DType::float32 || is_low_precision_float(p.dtype());
  });
  std::vector<Tensor> parts;
  for (const Tensor& p : parts_in) parts.push_back(all_float ? detail::to_compute_type(p, t) : p);
  const Tensor& first = parts.front();
  const auto d = static_cast<std::size_t>(normalize_axis(axis, first.dim(), "concat", first.shape()));
  Shape shape = first.shape();
  shape[d] = 0;
  for (const Tensor& p : parts) {
    Shape expected = first.shape();
    expected[d] = p.dim() == first.dim() ? p.shape()[d] : -1;
    if (p.shape() != expected || p.dtype() != first.dtype()) {
      throw ShapeError(fmt::format("concat: part of shape {} ({}) does not fit {} ({}) along axis {}",
                                   shape_string(p.shape()), dtype_name(p.dtype()),
                                   shape_string(first.shape()), dtype_name(first.dtype()), axis));
    }
    shape[d] += p.shape()[d];
  }
  Tensor out = empty(shape, first.dtype(), first.device());
  std::vector<std::int64_t> starts;
  std::int64_t at = 0;
  for (const Tensor& p : parts) {
    starts.push_back(at);
    copy_into(detail::strided_view(out, p.shape(), out.strides(), out.offset() + at * out.strides()[d]), p);
    at += p.shape()[d];
  }
  return record(out, "concat", parts, [starts, d, parts_count = parts.size()](const Tensor& g) {
    std::vector<Tensor> grads;
    for (std::size_t i = 0; i < parts_count; ++i) {
      const std::int64_t stop = i + 1 < parts_count ? starts[i + 1] : g.shape()[d];
      grads.push_back(slice(g, static_cast<std::int64_t>(d), starts[i], stop));
    }
    return grads;
  });
}

}  // namespace lowbit::train
