// Shape ops: views that share storage where the strides allow it, copies where they do not.
#pragma once

#include <cstdint>
#include <vector>

#include "lowbit/train/tensor.hpp"

namespace lowbit::train {

// New shape with the same element count; one entry may be -1. A view when the tensor is contiguous.
Tensor reshape(const Tensor& a, Shape shape);
Tensor flatten(const Tensor& a, std::int64_t start_axis = 1);               // [n, ...] -> [n, prod(...)]
Tensor permute(const Tensor& a, const std::vector<std::int64_t>& order);    // a view
Tensor transpose(const Tensor& a, std::int64_t axis0, std::int64_t axis1);  // a view
// Elements [start, stop) along `axis` (a view).
Tensor slice(const Tensor& a, std::int64_t axis, std::int64_t start, std::int64_t stop);
// Joins along `axis` (a copy).
Tensor concat(const std::vector<Tensor>& parts, std::int64_t axis);

}  // namespace lowbit::train
