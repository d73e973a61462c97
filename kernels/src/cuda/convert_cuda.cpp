#include <fmt/format.h>

#include "convert_launch.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/kernels/cuda.hpp"

namespace lowbit::kernels::cuda {

void convert(const void* src, DType from, void* dst, DType to, std::size_t count,
             const ConvertOptions& options) {
  if (from != DType::float32 && from != DType::bfloat16) {
    throw RangeError(fmt::format("cuda::convert: from = {} is not a source type here (float32, bfloat16)",
                                 dtype_name(from)));
  }
  if (to != DType::float8_e4m3fn && to != DType::float8_e5m2 && to != DType::bfloat16 &&
      to != DType::float16) {
    throw RangeError(
        fmt::format("cuda::convert: to = {} is not a target type here (float8_e4m3fn, float8_e5m2, "
                    "bfloat16, float16)",
                    dtype_name(to)));
  }
  if (count > 0 && (src == nullptr || dst == nullptr))
    throw RangeError(fmt::format("cuda::convert: {} is null for {} elements", src ? "dst" : "src", count));
  launch_convert(src, from, dst, to, count, options.policy, options.scale, options.amax, options.stream);
}

}  // namespace lowbit::kernels::cuda
