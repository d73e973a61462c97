// Every CUDA runtime call's result goes through check_cuda: a failure throws lowbit::Error naming the call
// and CUDA's own description of the error.
#pragma once

#include <cuda_runtime_api.h>

namespace lowbit::kernels::cuda {

void check_cuda(cudaError_t status, const char* call);

}  // namespace lowbit::kernels::cuda
