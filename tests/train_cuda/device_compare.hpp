// Helpers of the CUDA train/ tests: the same random inputs on the CPU and on the GPU, and comparisons of a
// GPU result with the CPU op's (the independent reference: a separate implementation on another device).
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include "lowbit/train/device.hpp"
#include "lowbit/train/random.hpp"
#include "lowbit/train/tensor.hpp"

namespace lowbit::train::testing {

// Uniform in [lo, hi), fresh per seed, on the CPU.
inline Tensor random_cpu(const Shape& shape, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Rng rng(seed);
  std::vector<double> v(static_cast<std::size_t>(shape_numel(shape)));
  for (double& x : v) x = lo + (hi - lo) * rng.next_double();
  return from_values(v, shape);
}

// The pair of leaves (CPU, CUDA) holding the same values, both requiring grad.
struct Pair {
  Tensor cpu, gpu;
};
inline Pair leaf_pair(const Shape& shape, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Tensor c = random_cpu(shape, seed, lo, hi);
  Tensor g = clone(to_device(c, Device::cuda));
  c.set_requires_grad(true);
  g.set_requires_grad(true);
  return {c, g};
}

// ||gpu - cpu|| / ||cpu|| (elementwise values brought to the host in float64); 0 for two zero tensors.
inline double relative_error(const Tensor& gpu, const Tensor& cpu) {
  REQUIRE(gpu.device() == Device::cuda);
  REQUIRE(cpu.device() == Device::cpu);
  REQUIRE(gpu.shape() == cpu.shape());
  const std::vector<double> a = gpu.to_vector(), b = cpu.to_vector();
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    REQUIRE(std::isfinite(a[i]) == std::isfinite(b[i]));
    if (!std::isfinite(b[i])) continue;
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    norm += b[i] * b[i];
  }
  return norm == 0 ? std::sqrt(diff) : std::sqrt(diff / norm);
}

// Bit-for-bit equal values (same dtype and shape).
inline void require_equal(const Tensor& gpu, const Tensor& cpu) {
  REQUIRE(gpu.dtype() == cpu.dtype());
  REQUIRE(gpu.to_vector() == cpu.to_vector());
}

}  // namespace lowbit::train::testing
