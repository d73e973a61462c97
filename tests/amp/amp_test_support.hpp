// Shared by the amp tests: a synthetic Fashion-MNIST-shaped batch (no dataset needed).
#pragma once

#include <utility>
#include <vector>

#include "lowbit/train/random.hpp"
#include "lowbit/train/tensor.hpp"

namespace lowbit::amp::testing {

// Deterministic images [n, 1, 28, 28] in the normalised pixel range and labels in [0, 10).
inline std::pair<train::Tensor, train::Tensor> synthetic_batch(std::int64_t n, std::uint64_t seed) {
  train::Rng rng(seed);
  std::vector<float> pixels(static_cast<std::size_t>(n * 28 * 28));
  for (float& p : pixels) p = static_cast<float>(rng.next_double() * 3 - 0.8);
  std::vector<double> labels(static_cast<std::size_t>(n));
  for (double& l : labels) l = static_cast<double>(rng.next_below(10));
  return {train::from_values(pixels, {n, 1, 28, 28}), train::from_values(labels, {n}, DType::int32)};
}

}  // namespace lowbit::amp::testing
