// Pieces shared by the conversion kernels (convert.cu, encode_blocks.cu): target formats as template
// arguments, reading an fp32 or bf16 source as fp32 bits, and the amax reduction. |x| is handled as its bit
// pattern, since non-negative floats order like their bits (NaN above inf), so the max is an unsigned max,
// reduced across the warp and folded into one device word with atomicMax.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lowbit/formats/float_spec.hpp"

namespace lowbit::kernels::cuda {

// Formats as kernel template arguments, so that the engine's format constants fold away. nvcc's host stubs
// cannot spell a class-type template argument (a FloatSpec), so kernels take one of these types and copy
// its `spec` into a local constexpr (namespace-scope constexpr variables are not visible in device code).
struct E4m3fn {
  static constexpr FloatSpec spec = spec::float8_e4m3fn;
};
struct E5m2 {
  static constexpr FloatSpec spec = spec::float8_e5m2;
};
struct E2m1fn {
  static constexpr FloatSpec spec = spec::float4_e2m1fn;
};
struct Bf16 {
  static constexpr FloatSpec spec = spec::bfloat16;
};
struct F16 {
  static constexpr FloatSpec spec = spec::float16;
};

// Element i of an fp32 or bf16 array as fp32 bits (bf16 widens exactly).
__device__ inline std::uint32_t load_fp32_bits(const void* src, bool src_bf16, std::size_t i) {
  return src_bf16 ? std::uint32_t{static_cast<const std::uint16_t*>(src)[i]} << 16
                  : static_cast<const std::uint32_t*>(src)[i];
}

// max(*amax, max over the warp of `local`), where `local` is a thread's |x| as bits. Every lane of the warp
// must call it (blockDim a multiple of 32, lanes converged).
__device__ inline void fold_amax(std::uint32_t local, float* amax) {
  local = __reduce_max_sync(0xFFFFFFFFu, local);
  if (threadIdx.x % 32 == 0) atomicMax(reinterpret_cast<unsigned int*>(amax), local);
}

}  // namespace lowbit::kernels::cuda
