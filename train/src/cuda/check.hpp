// Internal: every CUDA runtime call of train/src/cuda is checked; a failure throws lowbit::Error naming the
// call and CUDA's description (as kernels/' own check does for its calls).
#pragma once

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <string_view>

#include "lowbit/formats/error.hpp"

namespace lowbit::train::detail {

inline void check_cuda(cudaError_t status, std::string_view call) {
  if (status == cudaSuccess) return;
  throw Error(
      fmt::format("CUDA: {} failed: {} ({})", call, cudaGetErrorString(status), cudaGetErrorName(status)));
}

}  // namespace lowbit::train::detail
