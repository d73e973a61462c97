// CUDA's own host conversion functions (cuda_fp8.hpp, cuda_bf16.hpp, cuda_fp6.hpp, cuda_fp4.hpp from
// /usr/local/cuda/include, compiled by g++ for the host), an independent oracle written by NVIDIA.
// Available only where CMake found the headers (LOWBIT_HAVE_CUDA_HEADERS); elsewhere kHaveCudaHeaders is
// false and the functions must not be called.
//
// What they do where lowbit's semantics differ (read from the headers of CUDA 13.0):
// - NaN inputs lose their sign: __nv_cvt_float_to_fp8 gives 0x7f for e4m3 and e5m2 alike, under both
//   saturation modes; __float2bfloat16_rn gives 0x7fff. lowbit gives its canonical quiet NaN with the
//   sign kept (0x7f/0xff, 0x7e/0xfe, 0x7fc0/0xffc0), so NaN results compare by class only.
// - __NV_NOSAT equals ml_dtypes (lowbit's Policy::ieee) on every non-NaN input: overflow past
//   max + half an ulp goes to NaN (e4m3, sign kept) or inf (e5m2), inf to NaN or inf, ties to even.
// - fp6/fp4 (always saturating): NaN gives +largest finite, as lowbit's Policy::saturate does.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lowbit::test {

#if defined(LOWBIT_HAVE_CUDA_HEADERS)
inline constexpr bool kHaveCudaHeaders = true;
#else
inline constexpr bool kHaveCudaHeaders = false;
#endif

enum class CudaFormat { e4m3, e5m2, e2m3, e3m2, e2m1 };

// __nv_cvt_float_to_fp8(x, satfinite ? __NV_SATFINITE : __NV_NOSAT, e4m3 / e5m2) for each element.
void cuda_float_to_fp8(const float* in, std::uint8_t* out, std::size_t count, CudaFormat format,
                       bool satfinite);
// __nv_cvt_float_to_fp6 (e2m3 / e3m2) or __nv_cvt_float_to_fp4 (e2m1), cudaRoundNearest.
void cuda_float_to_fp6_fp4(const float* in, std::uint8_t* out, std::size_t count, CudaFormat format);
// __float2bfloat16_rn, host path.
void cuda_float_to_bf16(const float* in, std::uint16_t* out, std::size_t count);

}  // namespace lowbit::test
