// Elementwise fp32 / bf16 -> fp8 (and bf16 / fp16) on the GPU, with an optional per-tensor scale and the
// input's amax reduced on the way: the quantization step of fp8 training. Each element goes through the
// formats library's own conversion engine (float_engine.hpp, constexpr, compiled here for the device), so
// the GPU result is the formats result by construction; the tests still compare every fp32 input.
#include <cuda_runtime.h>

#include <bit>
#include <cstdint>

#include "convert_launch.hpp"
#include "cuda_check.hpp"
#include "lowbit/formats/float_engine.hpp"

namespace lowbit::kernels::cuda {

namespace {

__device__ inline FloatSpec spec_of(DType t) {
  // Copies of formats' constexpr specs (namespace-scope constexpr variables are not visible in device code).
  constexpr FloatSpec e4m3fn = spec::float8_e4m3fn, e5m2 = spec::float8_e5m2, bf16 = spec::bfloat16,
                      f16 = spec::float16;
  switch (t) {
    case DType::float8_e4m3fn:
      return e4m3fn;
    case DType::float8_e5m2:
      return e5m2;
    case DType::bfloat16:
      return bf16;
    default:
      return f16;
  }
}

template <class Out>
__global__ void convert_kernel(const void* src, bool src_bf16, Out* dst, std::size_t count, DType to,
                               Policy policy, const float* scale, float* amax) {
  constexpr FloatSpec f32 = spec::float32;
  const FloatSpec out_spec = spec_of(to);
  const RoundOptions options{Rounding::nearest_even, policy, 0};
  const float factor = scale ? *scale : 1.0f;
  std::uint32_t local_amax = 0;  // |x| as bits: non-negative floats order like their bit patterns
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const std::uint32_t in_bits = src_bf16 ? std::uint32_t{static_cast<const std::uint16_t*>(src)[i]} << 16
                                           : static_cast<const std::uint32_t*>(src)[i];
    const std::uint32_t magnitude = in_bits & 0x7FFFFFFFu;
    local_amax = magnitude > local_amax ? magnitude : local_amax;
    float x = std::bit_cast<float>(in_bits);
    if (scale) x *= factor;
    Flags flags;
    dst[i] = static_cast<Out>(
        pack_float(out_spec, unpack_float(f32, std::bit_cast<std::uint32_t>(x)), options, flags));
  }
  if (amax) {
    for (int offset = 16; offset > 0; offset /= 2) {
      const std::uint32_t other = __shfl_down_sync(0xFFFFFFFFu, local_amax, offset);
      local_amax = other > local_amax ? other : local_amax;
    }
    if (threadIdx.x % 32 == 0) atomicMax(reinterpret_cast<unsigned int*>(amax), local_amax);
  }
}

}  // namespace

void launch_convert(const void* src, DType from, void* dst, DType to, std::size_t count, Policy policy,
                    const float* scale, float* amax, void* stream) {
  if (count == 0) return;
  const int threads = 256;
  const std::size_t wanted = (count + threads - 1) / threads;
  const int blocks = static_cast<int>(wanted < 8192 ? wanted : 8192);
  const bool src_bf16 = from == DType::bfloat16;
  auto s = static_cast<cudaStream_t>(stream);
  if (to == DType::float8_e4m3fn || to == DType::float8_e5m2) {
    convert_kernel<<<blocks, threads, 0, s>>>(src, src_bf16, static_cast<std::uint8_t*>(dst), count, to,
                                              policy, scale, amax);
  } else {
    convert_kernel<<<blocks, threads, 0, s>>>(src, src_bf16, static_cast<std::uint16_t*>(dst), count, to,
                                              policy, scale, amax);
  }
  check_cuda(cudaGetLastError(), "launch of convert_kernel");
}

}  // namespace lowbit::kernels::cuda
