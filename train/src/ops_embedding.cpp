// embedding: a row gather from the table; backward scatter-adds the output gradient rows into a zero table
// gradient, so an index used k times receives the sum of its k gradient rows.
#include <fmt/format.h>

#include <algorithm>

#include "autocast_dispatch.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/train/autograd.hpp"
#include "lowbit/train/nn_ops.hpp"
#include "strided.hpp"

namespace lowbit::train {

static Tensor embedding_native(const Tensor& indices, const Tensor& table) {
  detail::require_cpu(indices, "embedding");
  detail::require_cpu(table, "embedding");
  check_dtype(indices, DType::int32, "embedding indices");
  if (table.dim() != 2) {
    throw ShapeError(fmt::format("embedding: table {} is not [V, D]", shape_string(table.shape())));
  }
  const std::int64_t vocabulary = table.shape()[0], d = table.shape()[1];
  const Tensor ic = contiguous(indices);
  const std::int32_t* idx = ic.data<std::int32_t>();
  const std::int64_t count = ic.numel();
  for (std::int64_t i = 0; i < count; ++i) {
    if (idx[i] < 0 || idx[i] >= vocabulary) {
      throw RangeError(
          fmt::format("embedding: index {} (element {} of indices {}) is outside [0, V) with V = {}", idx[i],
                      i, shape_string(indices.shape()), vocabulary));
    }
  }
  Shape out_shape = indices.shape();
  out_shape.push_back(d);
  const Tensor tc = contiguous(table.detach());
  Tensor out = empty(out_shape, table.dtype());
  detail::dispatch_float(table.dtype(), "embedding", [&](auto tag) {
    using T = decltype(tag);
    const T* src = tc.data<T>();
    T* dst = out.data<T>();
    for (std::int64_t i = 0; i < count; ++i) std::copy_n(src + idx[i] * d, d, dst + i * d);
  });
  return record(out, "embedding", {Tensor(), table}, [ic, vocabulary, d, count](const Tensor& grad_out) {
    const Tensor gc = contiguous(grad_out);
    Tensor gt = zeros({vocabulary, d}, gc.dtype());
    detail::dispatch_float(gc.dtype(), "embedding backward", [&](auto tag) {
      using T = decltype(tag);
      const T* g = gc.data<T>();
      T* dst = gt.data<T>();
      const std::int32_t* idx = ic.data<std::int32_t>();
      for (std::int64_t i = 0; i < count; ++i) {
        T* row = dst + idx[i] * d;
        const T* src = g + i * d;
        for (std::int64_t j = 0; j < d; ++j) row[j] += src[j];
      }
    });
    return std::vector<Tensor>{Tensor(), gt};
  });
}

// Public entry points: the compute dtype comes from the precision policy (autocast_dispatch.hpp).
Tensor embedding(const Tensor& indices, const Tensor& table) {
  return detail::autocast_op(
      "embedding", [&](const Tensor& table_) { return embedding_native(indices, table_); }, table);
}

}  // namespace lowbit::train
