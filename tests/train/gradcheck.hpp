// Gradient checking against central finite differences in float64: the independent reference every op's
// backward is tested with.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "lowbit/train/tensor.hpp"

namespace lowbit::train::testing {

// Random float64 tensor with values uniform in [lo, hi) from a fixed seed.
Tensor random_tensor(const Shape& shape, std::uint64_t seed, double lo = -1.0, double hi = 1.0);

struct GradcheckResult {
  double max_abs_error = 0;  // largest |analytic - numeric| over every input element
  std::string worst;         // which input and element, for the failure message
};

// Compares the gradients of L = sum(f(inputs) * R) (R a fixed random tensor of f's output shape) computed by
// backward with central differences (step h) for every element of every input that requires grad.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          std::vector<Tensor> inputs, double h = 1e-6);

// A float64 leaf that requires grad, with values uniform in [lo, hi).
Tensor leaf(const Shape& shape, std::uint64_t seed, double lo = -1.0, double hi = 1.0);

// Catch2 check: every gradient of f at `inputs` within 1e-7 of its central difference (float64).
void require_gradients_match(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                             std::vector<Tensor> inputs);

}  // namespace lowbit::train::testing
