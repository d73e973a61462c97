#include "oracle_cuda.hpp"

#include <cstring>
#include <stdexcept>

#if defined(LOWBIT_HAVE_CUDA_HEADERS)
#include <cuda_bf16.h>
#include <cuda_fp4.h>
#include <cuda_fp6.h>
#include <cuda_fp8.h>
#endif

namespace lowbit::test {

#if defined(LOWBIT_HAVE_CUDA_HEADERS)

namespace {

// The mode as template arguments, so that the header's branches on it fold away in the loop.
template <__nv_saturation_t Saturation, __nv_fp8_interpretation_t Kind>
void fp8_loop(const float* in, std::uint8_t* out, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) out[i] = __nv_cvt_float_to_fp8(in[i], Saturation, Kind);
}

}  // namespace

void cuda_float_to_fp8(const float* in, std::uint8_t* out, std::size_t count, CudaFormat format,
                       bool satfinite) {
  if (format == CudaFormat::e4m3) {
    satfinite ? fp8_loop<__NV_SATFINITE, __NV_E4M3>(in, out, count)
              : fp8_loop<__NV_NOSAT, __NV_E4M3>(in, out, count);
  } else if (format == CudaFormat::e5m2) {
    satfinite ? fp8_loop<__NV_SATFINITE, __NV_E5M2>(in, out, count)
              : fp8_loop<__NV_NOSAT, __NV_E5M2>(in, out, count);
  } else {
    throw std::invalid_argument("not an fp8 format");
  }
}

void cuda_float_to_fp6_fp4(const float* in, std::uint8_t* out, std::size_t count, CudaFormat format) {
  switch (format) {
    case CudaFormat::e2m3:
      for (std::size_t i = 0; i < count; ++i)
        out[i] = __nv_cvt_float_to_fp6(in[i], __NV_E2M3, cudaRoundNearest);
      return;
    case CudaFormat::e3m2:
      for (std::size_t i = 0; i < count; ++i)
        out[i] = __nv_cvt_float_to_fp6(in[i], __NV_E3M2, cudaRoundNearest);
      return;
    case CudaFormat::e2m1:
      for (std::size_t i = 0; i < count; ++i)
        out[i] = __nv_cvt_float_to_fp4(in[i], __NV_E2M1, cudaRoundNearest);
      return;
    default:
      throw std::invalid_argument("not an fp6/fp4 format");
  }
}

void cuda_float_to_bf16(const float* in, std::uint16_t* out, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    const __nv_bfloat16 b = __float2bfloat16_rn(in[i]);
    std::memcpy(out + i, &b, sizeof out[i]);
  }
}

#else

void cuda_float_to_fp8(const float*, std::uint8_t*, std::size_t, CudaFormat, bool) {
  throw std::logic_error("CUDA headers were not found at build time");
}
void cuda_float_to_fp6_fp4(const float*, std::uint8_t*, std::size_t, CudaFormat) {
  throw std::logic_error("CUDA headers were not found at build time");
}
void cuda_float_to_bf16(const float*, std::uint16_t*, std::size_t) {
  throw std::logic_error("CUDA headers were not found at build time");
}

#endif

}  // namespace lowbit::test
