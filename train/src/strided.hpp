// Internal: loops over N strided operands of one shape, and dispatch from a float DType to C++ types.
#pragma once

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <vector>

#include "lowbit/formats/error.hpp"
#include "lowbit/kernels/parallel.hpp"
#include "lowbit/train/tensor.hpp"

namespace lowbit::train::detail {

// Calls inner(offsets, count, inner_strides) for runs along the last dimension, after merging dimensions
// that are contiguous in every operand (so contiguous tensors make one run). `strides[i]` are operand i's
// strides for `shape` (0 where it broadcasts); offsets are in elements, relative to each operand's start.
template <std::size_t N, class Inner>
void for_each_run(const Shape& shape, const std::array<Shape, N>& strides, Inner&& inner) {
  // Merge dimension d into d+1 where every operand steps over d+1 exactly once per step of d.
  Shape dims;
  std::array<Shape, N> st;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !dims.empty();
    for (std::size_t i = 0; i < N && merge; ++i) merge = st[i].back() == strides[i][d] * shape[d];
    if (merge) {
      dims.back() *= shape[d];
      for (std::size_t i = 0; i < N; ++i) st[i].back() = strides[i][d];
    } else {
      dims.push_back(shape[d]);
      for (std::size_t i = 0; i < N; ++i) st[i].push_back(strides[i][d]);
    }
  }
  for (std::int64_t extent : shape) {
    if (extent == 0) return;
  }
  std::array<std::int64_t, N> inner_strides{};
  if (dims.empty()) {
    inner(std::array<std::int64_t, N>{}, std::int64_t{1}, inner_strides);
    return;
  }
  const std::size_t last = dims.size() - 1;
  for (std::size_t i = 0; i < N; ++i) inner_strides[i] = st[i][last];
  std::vector<std::int64_t> index(last, 0);
  std::array<std::int64_t, N> offsets{};
  while (true) {
    inner(offsets, dims[last], inner_strides);
    std::size_t d = last;
    while (d > 0) {
      --d;
      ++index[d];
      for (std::size_t i = 0; i < N; ++i) offsets[i] += st[i][d];
      if (index[d] < dims[d]) break;
      for (std::size_t i = 0; i < N; ++i) offsets[i] -= st[i][d] * dims[d];
      index[d] = 0;
      if (d == 0) return;
    }
    if (last == 0) return;
  }
}

// Calls f(T{}) with T = float or double for the tensor's dtype; other dtypes are an error naming `op`.
template <class F>
decltype(auto) dispatch_float(DType type, const char* op, F&& f) {
  switch (type) {
    case DType::float32:
      return f(float{});
    case DType::float64:
      return f(double{});
    default:
      throw RangeError(fmt::format("{}: dtype {} has no arithmetic here; cast to float32 or float64 first",
                                   op, dtype_name(type)));
  }
}

// Strides of `t` as seen in a broadcast to `shape` (0 on broadcast dimensions; numpy's alignment from the
// right).
Shape broadcast_strides(const Tensor& t, const Shape& shape);
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// The storage of `base` seen with another shape, strides and offset, without autograd history.
Tensor strided_view(const Tensor& base, Shape shape, Shape strides, std::int64_t offset);
// A contiguous tensor seen with another shape of the same element count, without autograd history.
Tensor reshaped_view(const Tensor& contiguous, const Shape& shape);

// Calls f(begin, end) over [0, n), split across the kernels' threads when n items are worth waking them for:
// at least `grain` items per thread (the default suits one streaming pass over floats, about 64 KiB each).
// Each item is handled by exactly one call, so outputs written per item do not depend on the split.
template <class F>
void parallel_items(std::int64_t n, F&& f, std::int64_t grain = std::int64_t{1} << 14) {
  if (n < 2 * grain) {
    if (n > 0) f(std::int64_t{0}, n);
    return;
  }
  kernels::parallel_for(n, grain, f);
}

// Requires the CPU (the CUDA backend brings its own kernels).
void require_cpu(const Tensor& t, const char* op);

}  // namespace lowbit::train::detail
