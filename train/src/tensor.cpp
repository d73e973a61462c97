#include "lowbit/train/tensor.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <limits>

#include "cuda_hooks.hpp"
#include "lowbit/formats/bulk.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/kernels/transpose.hpp"
#include "lowbit/train/autograd.hpp"
#include "lowbit/train/device.hpp"
#include "strided.hpp"

namespace lowbit::train {

std::string shape_string(const Shape& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t n = 1;
  for (std::int64_t extent : shape) {
    if (extent < 0) throw ShapeError(fmt::format("shape {} has a negative extent", shape_string(shape)));
    if (extent != 0 && n > std::numeric_limits<std::int64_t>::max() / extent) {
      throw ShapeError(fmt::format("shape {} has more elements than fit in 64 bits", shape_string(shape)));
    }
    n *= extent;
  }
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  std::int64_t step = 1;
  for (std::size_t d = shape.size(); d-- > 0;) {
    strides[d] = step;
    step *= shape[d];
  }
  return strides;
}

void check_dtype(const Tensor& t, DType expected, const char* what) {
  if (t.dtype() != expected) {
    throw RangeError(fmt::format("{}: tensor has dtype {}, expected {}", what, dtype_name(t.dtype()),
                                 dtype_name(expected)));
  }
}

std::int64_t Tensor::size(std::int64_t d) const {
  const std::int64_t n = dim();
  const std::int64_t i = d < 0 ? d + n : d;
  if (i < 0 || i >= n) {
    throw ShapeError(
        fmt::format("dimension {} is out of range for a tensor of shape {}", d, shape_string(shape())));
  }
  return impl_->shape[static_cast<std::size_t>(i)];
}

bool Tensor::is_contiguous() const {
  std::int64_t step = 1;
  for (std::size_t d = impl_->shape.size(); d-- > 0;) {
    if (impl_->shape[d] != 1 && impl_->strides[d] != step) return false;
    step *= impl_->shape[d];
  }
  return true;
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl_->storage->data()) +
         static_cast<std::ptrdiff_t>(
             dtype_storage_bytes(impl_->dtype, static_cast<std::size_t>(impl_->offset)));
}

double Tensor::item() const {
  if (numel() != 1) {
    throw ShapeError(
        fmt::format("item(): tensor of shape {} has {} elements, not 1", shape_string(shape()), numel()));
  }
  return to_vector().front();
}

std::vector<double> Tensor::to_vector() const {
  const Tensor c = cast(to_device(contiguous(detach()), Device::cpu), DType::float64);
  const double* p = c.data<double>();
  return std::vector<double>(p, p + c.numel());
}

Tensor& Tensor::set_requires_grad(bool on) {
  if (on && dtype() != DType::float32 && dtype() != DType::float64 && dtype() != DType::bfloat16 &&
      dtype() != DType::float16) {
    throw RangeError(fmt::format(
        "requires_grad: only float64, float32, bfloat16 and float16 tensors can require grad, not {}",
        dtype_name(dtype())));
  }
  if (impl_->grad_fn) throw RangeError("requires_grad: only leaf tensors (made by no op) can be set");
  impl_->requires_grad = on;
  return *this;
}

void Tensor::backward(const Tensor& seed) const {
  run_backward(*this, seed);
}

Tensor Tensor::detach() const {
  return detail::strided_view(*this, shape(), strides(), offset());
}

Tensor empty(const Shape& shape, DType dtype, Device device) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage =
      allocate_storage(device, dtype_storage_bytes(dtype, static_cast<std::size_t>(shape_numel(shape))));
  impl->dtype = dtype;
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  return Tensor(std::move(impl));
}

Tensor zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  if (device != Device::cpu) {
    backend(device).zero(*t.storage());
    return t;
  }
  auto* bytes = static_cast<char*>(t.raw_data());
  detail::parallel_items(
      static_cast<std::int64_t>(t.storage()->bytes()),
      [&](std::int64_t begin, std::int64_t end) {
        std::memset(bytes + begin, 0, static_cast<std::size_t>(end - begin));
      },
      std::int64_t{1} << 18);
  return t;
}

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  if (device != Device::cpu) {
    Tensor t = empty(shape, dtype, device);
    detail::cuda_ops().fill(t, value);
    return t;
  }
  const std::vector<double> values(static_cast<std::size_t>(shape_numel(shape)), value);
  return from_values(values, shape, dtype);
}

namespace {

template <class T>
Tensor from_typed(std::span<const T> values, const Shape& shape, DType dtype) {
  if (static_cast<std::int64_t>(values.size()) != shape_numel(shape)) {
    throw ShapeError(fmt::format("from_values: {} values do not fill shape {} ({} elements)", values.size(),
                                 shape_string(shape), shape_numel(shape)));
  }
  Tensor t = empty(shape, dtype);
  convert_bulk(dtype_format(dtype_of<T>()), values.data(), dtype_format(dtype), t.raw_data(), values.size());
  return t;
}

}  // namespace

Tensor from_values(std::span<const double> values, const Shape& shape, DType dtype) {
  return from_typed(values, shape, dtype);
}

Tensor from_values(std::span<const float> values, const Shape& shape, DType dtype) {
  return from_typed(values, shape, dtype);
}

Tensor scalar(double value, DType dtype) {
  return full({}, value, dtype);
}

namespace {

// A contiguous dst from a src whose last two dimensions are swapped (a transposed view made contiguous: the
// GEMM operands of gemm_2d.cpp, conv2d's channels-last gradient): the leading dimensions one by one, each
// matrix in tiles. Returns false for any other layout.
bool copy_transposed(const Tensor& dst, const Tensor& src, std::size_t width) {
  const std::size_t d = src.shape().size();
  if (d < 2 || !dst.is_contiguous()) return false;
  const std::int64_t rows = src.shape()[d - 2], cols = src.shape()[d - 1];
  if (rows < 2 || cols < 2 || src.strides()[d - 2] != 1) return false;
  const std::int64_t col_stride = src.strides()[d - 1];
  const std::int64_t matrices = src.numel() / (rows * cols);
  const auto* in = static_cast<const char*>(src.raw_data());
  auto* out = static_cast<char*>(dst.raw_data());
  const auto bytes = static_cast<std::int64_t>(width);
  for (std::int64_t i = 0; i < matrices; ++i) {
    std::int64_t offset = 0;  // of matrix i in src: its index in the leading dimensions, row-major
    for (std::int64_t rest = i, k = static_cast<std::int64_t>(d) - 3; k >= 0; --k) {
      const std::int64_t extent = src.shape()[static_cast<std::size_t>(k)];
      offset += rest % extent * src.strides()[static_cast<std::size_t>(k)];
      rest /= extent;
    }
    kernels::transpose_tiles(in + offset * bytes, col_stride, out + i * rows * cols * bytes, rows, cols,
                             width);
  }
  return true;
}

// The body of copy_into on one thread.
void copy_strided(const Tensor& dst, const Tensor& src, std::size_t width) {
  if (copy_transposed(dst, src, width)) return;
  auto* out = static_cast<char*>(dst.raw_data());
  const auto* in = static_cast<const char*>(src.raw_data());
  detail::for_each_run<2>(
      src.shape(), {dst.strides(), src.strides()},
      [&](std::array<std::int64_t, 2> off, std::int64_t n, std::array<std::int64_t, 2> st) {
        if (st[0] == 1 && st[1] == 1) {
          std::memcpy(out + off[0] * width, in + off[1] * width, n * width);
          return;
        }
        for (std::int64_t i = 0; i < n; ++i) {
          std::memcpy(out + (off[0] + i * st[0]) * width, in + (off[1] + i * st[1]) * width, width);
        }
      });
}

}  // namespace

void copy_into(const Tensor& dst, const Tensor& src) {
  if (detail::on_cuda(dst) || detail::on_cuda(src)) {
    if (dst.shape() != src.shape() || dst.dtype() != src.dtype()) {
      throw ShapeError(fmt::format("copy_into: source {} {} does not match destination {} {}",
                                   dtype_name(src.dtype()), shape_string(src.shape()),
                                   dtype_name(dst.dtype()), shape_string(dst.shape())));
    }
    return detail::cuda_ops().copy(dst, src);
  }
  detail::require_cpu(dst, "copy_into");
  detail::require_cpu(src, "copy_into");
  if (dst.shape() != src.shape()) {
    throw ShapeError(fmt::format("copy_into: source shape {} differs from destination shape {}",
                                 shape_string(src.shape()), shape_string(dst.shape())));
  }
  if (dst.dtype() != src.dtype()) {
    throw RangeError(fmt::format("copy_into: source dtype {} differs from destination dtype {}",
                                 dtype_name(src.dtype()), dtype_name(dst.dtype())));
  }
  const std::size_t width = dtype_storage_bytes(src.dtype(), 1);
  if (dtype_bits(src.dtype()) < 8) {
    if (!src.is_contiguous() || !dst.is_contiguous() || (src.offset() % 2) != 0 || (dst.offset() % 2) != 0) {
      throw RangeError("copy_into: packed 4-bit tensors copy only whole contiguous bytes");
    }
    std::memcpy(dst.raw_data(), src.raw_data(),
                dtype_storage_bytes(src.dtype(), static_cast<std::size_t>(src.numel())));
    return;
  }
  // Large copies are split along the leading dimension across the kernels' threads (conv2d's gradient
  // reorders are megabytes).
  const std::int64_t rows = src.shape().empty() ? 1 : src.shape()[0];
  const std::int64_t row_elements = rows == 0 ? 0 : src.numel() / rows;
  detail::parallel_items(
      rows,
      [&](std::int64_t begin, std::int64_t end) {
        if (begin == 0 && end == rows) {
          copy_strided(dst, src, width);
          return;
        }
        Shape part = src.shape();
        part[0] = end - begin;
        copy_strided(detail::strided_view(dst, part, dst.strides(), dst.offset() + begin * dst.strides()[0]),
                     detail::strided_view(src, part, src.strides(), src.offset() + begin * src.strides()[0]),
                     width);
      },
      std::max<std::int64_t>(1, (std::int64_t{1} << 16) / std::max<std::int64_t>(row_elements, 1)));
}

Tensor clone(const Tensor& t) {
  Tensor out = empty(t.shape(), t.dtype(), t.device());
  copy_into(out, t);
  return out;
}

Tensor contiguous(const Tensor& t) {
  if (t.is_contiguous()) return t;
  return record(clone(t), "contiguous", {t}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor cast(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype) return t;
  const Tensor src = contiguous(t.detach());
  Tensor out;
  if (detail::on_cuda(src)) {
    out = detail::cuda_ops().cast(src, dtype);
  } else {
    out = empty(t.shape(), dtype);
    convert_bulk(dtype_format(src.dtype()), src.raw_data(), dtype_format(dtype), out.raw_data(),
                 static_cast<std::size_t>(src.numel()));
  }
  const DType from = t.dtype();
  return record(out, "cast", {t}, [from](const Tensor& g) { return std::vector<Tensor>{cast(g, from)}; });
}

namespace detail {

Shape broadcast_strides(const Tensor& t, const Shape& shape) {
  Shape strides(shape.size(), 0);
  const std::size_t lead = shape.size() - t.shape().size();
  for (std::size_t d = 0; d < t.shape().size(); ++d) {
    strides[lead + d] = t.shape()[d] == 1 ? 0 : t.strides()[d];
  }
  return strides;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t x = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const std::int64_t y = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (x != y && x != 1 && y != 1) {
      throw ShapeError(
          fmt::format("{}: shapes {} and {} do not broadcast", op, shape_string(a), shape_string(b)));
    }
    out[i] = x == 1 ? y : x;
  }
  return out;
}

Tensor strided_view(const Tensor& base, Shape shape, Shape strides, std::int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->dtype = base.dtype();
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  return Tensor(std::move(impl));
}

Tensor reshaped_view(const Tensor& contiguous, const Shape& shape) {
  return strided_view(contiguous, shape, contiguous_strides(shape), contiguous.offset());
}

void require_cpu(const Tensor& t, const char* op) {
  if (t.device() != Device::cpu) {
    throw RangeError(
        fmt::format("{}: tensor is on device {}, this op runs on the cpu", op, device_name(t.device())));
  }
}

}  // namespace detail

}  // namespace lowbit::train
