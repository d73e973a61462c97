// The launch shape of train/'s elementwise CUDA kernels (cuda_train.hpp): one thread per element in blocks
// of kThreads, grid-stride loops past the block cap.
#pragma once

#include <cstdint>

namespace lowbit::kernels::cuda {

constexpr int kThreads = 256;

// Blocks for `count` elements: at least one, at most 65535 * 16 (the kernels loop over the rest).
inline unsigned blocks_for(std::int64_t count) {
  const std::int64_t b = (count + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 65535 * 16 ? 65535 * 16 : b));
}

}  // namespace lowbit::kernels::cuda
