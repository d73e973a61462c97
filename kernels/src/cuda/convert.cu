// Elementwise fp32 / bf16 -> fp8 (and bf16 / fp16) on the GPU, with an optional per-tensor scale and the
// input's amax reduced on the way: the quantization step of fp8 training. Each element goes through the
// formats library's own conversion engine (float_engine.hpp, constexpr, compiled here for the device), so
// the GPU result is the formats result by construction; the tests still compare every fp32 input.
#include <cuda_runtime.h>

#include <bit>
#include <cstdint>
#include <type_traits>

#include "convert_common.cuh"
#include "convert_launch.hpp"
#include "cuda_check.hpp"
#include "lowbit/formats/float_engine.hpp"

namespace lowbit::kernels::cuda {

namespace {

// The target format is a template argument (convert_common.cuh).
template <class To>
__global__ void convert_kernel(const void* src, bool src_bf16, void* dst, std::size_t count, Policy policy,
                               const float* scale, float* amax) {
  constexpr FloatSpec f32 = spec::float32, out_spec = To::spec;
  using Out = std::conditional_t<out_spec.bits() == 8, std::uint8_t, std::uint16_t>;
  const RoundOptions options{Rounding::nearest_even, policy, 0};
  const float factor = scale ? *scale : 1.0f;
  std::uint32_t local_amax = 0;  // |x| as bits: non-negative floats order like their bit patterns
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const std::uint32_t in_bits = load_fp32_bits(src, src_bf16, i);
    const std::uint32_t magnitude = in_bits & 0x7FFFFFFFu;
    local_amax = magnitude > local_amax ? magnitude : local_amax;
    float x = std::bit_cast<float>(in_bits);
    if (scale) x *= factor;
    Flags flags;
    static_cast<Out*>(dst)[i] = static_cast<Out>(
        pack_float(out_spec, unpack_float(f32, std::bit_cast<std::uint32_t>(x)), options, flags));
  }
  if (amax) fold_amax(local_amax, amax);
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
  switch (to) {
    case DType::float8_e4m3fn:
      convert_kernel<E4m3fn><<<blocks, threads, 0, s>>>(src, src_bf16, dst, count, policy, scale, amax);
      break;
    case DType::float8_e5m2:
      convert_kernel<E5m2><<<blocks, threads, 0, s>>>(src, src_bf16, dst, count, policy, scale, amax);
      break;
    case DType::bfloat16:
      convert_kernel<Bf16><<<blocks, threads, 0, s>>>(src, src_bf16, dst, count, policy, scale, amax);
      break;
    default:  // float16 (convert_cuda.cpp admits no other target)
      convert_kernel<F16><<<blocks, threads, 0, s>>>(src, src_bf16, dst, count, policy, scale, amax);
      break;
  }
  check_cuda(cudaGetLastError(), "launch of convert_kernel");
}

}  // namespace lowbit::kernels::cuda
