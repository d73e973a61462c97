// Tensor: a typed, strided view of Storage, with the autograd state of reverse-mode differentiation.
// Copies of a Tensor share everything (a handle, like torch.Tensor). Views (reshape, permute, transpose,
// slice; view_ops.hpp) share the storage and differ in shape, strides and offset.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lowbit/formats/dtype.hpp"
#include "lowbit/train/storage.hpp"

namespace lowbit::train {

using Shape = std::vector<std::int64_t>;
std::string shape_string(const Shape& shape);  // "[64, 784]"
std::int64_t shape_numel(const Shape& shape);  // checked against overflow
Shape contiguous_strides(const Shape& shape);

struct Node;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  DType dtype = DType::float32;
  Shape shape;
  Shape strides;            // in elements
  std::int64_t offset = 0;  // in elements
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;     // the op that made this tensor (null for leaves)
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient of a leaf that requires grad
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  DType dtype() const { return impl_->dtype; }
  Device device() const { return impl_->storage->device(); }
  const Shape& shape() const { return impl_->shape; }
  const Shape& strides() const { return impl_->strides; }
  std::int64_t offset() const { return impl_->offset; }
  std::int64_t dim() const { return static_cast<std::int64_t>(impl_->shape.size()); }
  // Size of dimension d; negative d counts from the end. Throws ShapeError when out of range.
  std::int64_t size(std::int64_t d) const;
  std::int64_t numel() const { return shape_numel(impl_->shape); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return impl_->storage; }

  // The element at offset(): checks that T matches the dtype (float, double, std::int32_t, std::uint8_t...).
  template <class T>
  T* data() const;
  void* raw_data() const;

  // The value of a one-element tensor, as double (from any device; a CUDA tensor waits for its queue).
  double item() const;
  // All elements in row-major order, converted to double (copied to the host first when on a GPU).
  std::vector<double> to_vector() const;

  // Autograd.
  bool requires_grad() const { return impl_->requires_grad; }
  Tensor& set_requires_grad(bool on);
  Tensor grad() const { return Tensor(impl_->grad); }
  void set_grad(const Tensor& g) { impl_->grad = g.impl_; }
  const std::shared_ptr<Node>& grad_fn() const { return impl_->grad_fn; }
  // Runs reverse-mode differentiation from this tensor; `seed` defaults to 1 for a one-element tensor.
  void backward(const Tensor& seed = {}) const;
  // The same data without autograd history.
  Tensor detach() const;

  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }
  friend bool same_tensor(const Tensor& a, const Tensor& b) { return a.impl_ == b.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Factories. New storage is charged to the current MemoryCategoryScope.
Tensor empty(const Shape& shape, DType dtype = DType::float32, Device device = Device::cpu);
Tensor zeros(const Shape& shape, DType dtype = DType::float32, Device device = Device::cpu);
Tensor full(const Shape& shape, double value, DType dtype = DType::float32, Device device = Device::cpu);
inline Tensor ones(const Shape& shape, DType dtype = DType::float32) {
  return full(shape, 1.0, dtype);
}
// Values rounded into `dtype` (nearest-even); throws ShapeError when the count does not fit the shape.
Tensor from_values(std::span<const double> values, const Shape& shape, DType dtype = DType::float32);
Tensor from_values(std::span<const float> values, const Shape& shape, DType dtype = DType::float32);
Tensor scalar(double value, DType dtype = DType::float32);

// A contiguous copy (or the tensor itself when already contiguous). Differentiable.
Tensor contiguous(const Tensor& t);
// Always a fresh contiguous copy, without autograd history.
Tensor clone(const Tensor& t);
// Conversion between dtypes through formats' bulk conversion (nearest-even, ieee policy). Differentiable:
// the gradient is converted back to the input's dtype.
Tensor cast(const Tensor& t, DType dtype);
// Copies `src` into `dst` elementwise (same shape, any strides); no autograd.
void copy_into(const Tensor& dst, const Tensor& src);

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::float32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::float64;
}
template <>
constexpr DType dtype_of<std::int32_t>() {
  return DType::int32;
}
template <>
constexpr DType dtype_of<std::int8_t>() {
  return DType::int8;
}
template <>
constexpr DType dtype_of<std::uint8_t>() {
  return DType::uint8;
}

void check_dtype(const Tensor& t, DType expected, const char* what);

template <class T>
T* Tensor::data() const {
  check_dtype(*this, dtype_of<T>(), "data<T>()");
  return static_cast<T*>(impl_->storage->data()) + impl_->offset;
}

}  // namespace lowbit::train
