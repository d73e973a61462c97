// Internal: 2x2 max pooling with stride 2 of float32 planes (the CNN's pooling), sixteen windows at a time
// with AVX-512. The generic loop in ops_pool.cpp takes one window at a time and was 14% of a CNN step; this
// path gives the same values, the same argmax (first maximum in row-major window order, a NaN wins) and the
// same gradients, and is tested against the window definition (tests/train/test_ops_conv_pool.cpp).
#pragma once

#include <cstdint>

namespace lowbit::train::detail {

// Whether this CPU runs the AVX-512 path (checked once).
bool max_pool_2x2_available();

// `planes` planes of h x w (h, w >= 2) -> planes of (h / 2) x (w / 2): each window's maximum and its offset
// in the input plane. An odd last row or column belongs to no window.
void max_pool_2x2_forward(const float* x, float* out, std::int32_t* argmax, std::int64_t planes,
                          std::int64_t h, std::int64_t w);

// Writes every element of `gx` (planes of h x w): a window's gradient at its argmax, zero elsewhere.
// `argmax` is what max_pool_2x2_forward (or the generic loop, for 2x2 windows with stride 2) wrote.
void max_pool_2x2_backward(const float* grad, const std::int32_t* argmax, float* gx, std::int64_t planes,
                           std::int64_t h, std::int64_t w);

}  // namespace lowbit::train::detail
