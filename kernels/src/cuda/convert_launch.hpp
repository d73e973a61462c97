// The launcher of the GPU conversion kernel (convert.cu), called by cuda::convert (convert_cuda.cpp) after
// it has checked the arguments.
#pragma once

#include <cstddef>

#include "lowbit/formats/dtype.hpp"
#include "lowbit/formats/rounding.hpp"

namespace lowbit::kernels::cuda {

void launch_convert(const void* src, DType from, void* dst, DType to, std::size_t count, Policy policy,
                    const float* scale, float* amax, void* stream);

}  // namespace lowbit::kernels::cuda
