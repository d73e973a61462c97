// The GEMM epilogue on the GPU, the same expression as the CPU's (gemm.hpp): acc * alpha * row_scale[i] *
// col_scale[j] + beta * C + bias[j], then the activation, rounded once (nearest-even) into C's type.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "device_gemm.hpp"

namespace lowbit::kernels::cuda {

__device__ inline float activate(int activation, float x) {
  if (activation == 1) return x > 0.0f ? x : 0.0f;
  if (activation == 2) {
    const float inner = 0.7978845608028654f * (x + 0.044715f * x * x * x);
    return 0.5f * x * (1.0f + tanhf(inner));
  }
  return x;
}

template <OutType Out>
struct OutElement;
template <>
struct OutElement<OutType::f32> {
  using T = float;
  using Pair = float2;
  __device__ static float load(T x) { return x; }
  __device__ static T round(float v) { return v; }
  __device__ static Pair round_pair(float a, float b) { return make_float2(a, b); }
};
template <>
struct OutElement<OutType::bf16> {
  using T = __nv_bfloat16;
  using Pair = __nv_bfloat162;
  __device__ static float load(T x) { return __bfloat162float(x); }
  __device__ static T round(float v) { return __float2bfloat16_rn(v); }
  __device__ static Pair round_pair(float a, float b) { return __floats2bfloat162_rn(a, b); }
};
template <>
struct OutElement<OutType::f16> {
  using T = __half;
  using Pair = __half2;
  __device__ static float load(T x) { return __half2float(x); }
  __device__ static T round(float v) { return __float2half_rn(v); }
  __device__ static Pair round_pair(float a, float b) { return __floats2half2_rn(a, b); }
};
template <>
struct OutElement<OutType::i32> {
  using T = std::int32_t;
  using Pair = int2;
  __device__ static float load(T x) { return static_cast<float>(x); }
  __device__ static T round(float v) { return __float2int_rn(v); }
  __device__ static Pair round_pair(float a, float b) {
    return make_int2(__float2int_rn(a), __float2int_rn(b));
  }
};

// Calls f(std::integral_constant<OutType, e.out>{}): the epilogue's loops are compiled once per output type
// instead of switching per element.
template <class F>
__device__ inline void with_out_type(OutType out, F&& f) {
  switch (out) {
    case OutType::f32:
      return f(std::integral_constant<OutType, OutType::f32>{});
    case OutType::bf16:
      return f(std::integral_constant<OutType, OutType::bf16>{});
    case OutType::f16:
      return f(std::integral_constant<OutType, OutType::f16>{});
    case OutType::i32:
      return f(std::integral_constant<OutType, OutType::i32>{});
  }
}

template <OutType Out, class Acc>
__device__ inline float finish_value(const DeviceEpilogue& e, std::int64_t i, std::int64_t j, Acc acc,
                                     const typename OutElement<Out>::T* c) {
  float v = static_cast<float>(acc) * e.alpha;
  if (e.plain) return v;
  if (e.row_scale) v *= e.row_scale[i];
  if (e.col_scale) v *= e.col_scale[j];
  if (e.beta != 0.0f) v += e.beta * OutElement<Out>::load(c[i * e.ldc + j]);
  if (e.bias) v += e.bias[j];
  return activate(e.activation, v);
}

// Two horizontally adjacent accumulators (columns j and j + 1 of row i), as the tensor-core fragments hold
// them, finished and stored (as one access when e.pairs); elements outside m x n are dropped.
template <OutType Out, class Acc>
__device__ inline void finish_pair(const DeviceEpilogue& e, std::int64_t m, std::int64_t n, std::int64_t i,
                                   std::int64_t j, Acc v0, Acc v1) {
  using E = OutElement<Out>;
  auto* c = static_cast<typename E::T*>(e.c);
  if (i >= m || j >= n) return;
  typename E::T* at = c + i * e.ldc + j;
  if constexpr (std::is_integral_v<Acc> && Out == OutType::i32) {
    if (e.exact_int) {  // the exact wrapping sum, plus C when beta is 1
      const bool add = e.beta == 1.0f;
      at[0] = static_cast<std::int32_t>(static_cast<std::uint32_t>(v0) +
                                        (add ? static_cast<std::uint32_t>(at[0]) : 0u));
      if (j + 1 < n)
        at[1] = static_cast<std::int32_t>(static_cast<std::uint32_t>(v1) +
                                          (add ? static_cast<std::uint32_t>(at[1]) : 0u));
      return;
    }
  }
  const float r0 = finish_value<Out>(e, i, j, v0, c);
  if (j + 1 < n) {
    const float r1 = finish_value<Out>(e, i, j + 1, v1, c);
    if (e.pairs) {
      *reinterpret_cast<typename E::Pair*>(at) = E::round_pair(r0, r1);
    } else {
      at[0] = E::round(r0);
      at[1] = E::round(r1);
    }
  } else {
    at[0] = E::round(r0);
  }
}

}  // namespace lowbit::kernels::cuda
