// Optimizer kernels of train/'s CUDA tensors (cuda_train.hpp): Adam/AdamW and SGD updates that widen
// low-precision gradients and apply the loss-scale multiplier on the way, the sum of squares of gradient
// clipping and the inf/NaN check of loss scaling (both accumulate on the device; the host reads once).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>
#include <string>

#include "cuda_check.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/kernels/cuda_train.hpp"

namespace lowbit::kernels::cuda {

namespace {

constexpr int kThreads = 256;

unsigned blocks_for(std::size_t count) {
  const std::size_t b = (count + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 4096 ? 4096 : b));
}

#define LOWBIT_GRID_LOOP(i, count)                                                      \
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < (count); \
       i += std::size_t{gridDim.x} * blockDim.x)

__device__ float gradient(const void* g, DType type, std::size_t i) {
  switch (type) {
    case DType::bfloat16:
      return __uint_as_float(static_cast<unsigned>(static_cast<const unsigned short*>(g)[i]) << 16);
    case DType::float16:
      return __half2float(static_cast<const __half*>(g)[i]);
    default:
      return static_cast<const float*>(g)[i];
  }
}

__global__ void adam_kernel(float* param, const void* grad, DType type, float multiplier, float* m, float* v,
                            std::size_t count, AdamStep s) {
  LOWBIT_GRID_LOOP(e, count) {
    float p = param[e] * s.decay;
    const float g = gradient(grad, type, e) * multiplier + s.l2 * p;
    const float me = s.beta1 * m[e] + (1 - s.beta1) * g;
    const float ve = s.beta2 * v[e] + (1 - s.beta2) * g * g;
    m[e] = me;
    v[e] = ve;
    p -= s.step_size * me / (sqrtf(ve) / s.bias2_sqrt + s.eps);
    param[e] = p;
  }
}

__global__ void sgd_kernel(float* param, const void* grad, DType type, float multiplier, float* buf,
                           std::size_t count, SgdStep s) {
  LOWBIT_GRID_LOOP(e, count) {
    float g = gradient(grad, type, e) * multiplier + s.weight_decay * param[e];
    if (buf != nullptr) {
      buf[e] = s.first ? g : s.momentum * buf[e] + g;
      g = s.nesterov ? g + s.momentum * buf[e] : buf[e];
    }
    param[e] -= s.lr * g;
  }
}

__device__ float any_float(const void* data, DType type, std::size_t i) {
  switch (type) {
    case DType::float8_e4m3fn:
      return __half2float(
          __half(__nv_cvt_fp8_to_halfraw(static_cast<const __nv_fp8_storage_t*>(data)[i], __NV_E4M3)));
    case DType::float8_e5m2:
      return __half2float(
          __half(__nv_cvt_fp8_to_halfraw(static_cast<const __nv_fp8_storage_t*>(data)[i], __NV_E5M2)));
    default:
      return gradient(data, type, i);
  }
}

__global__ void sum_squares_kernel(const void* data, DType type, std::size_t count, double* sum) {
  double s = 0;
  LOWBIT_GRID_LOOP(e, count) {
    const double x = any_float(data, type, e);
    s += x * x;
  }
  __shared__ double partial[kThreads];
  partial[threadIdx.x] = s;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) atomicAdd(sum, partial[0]);
}

__global__ void nonfinite_kernel(const void* data, DType type, std::size_t count, unsigned* flag) {
  bool bad = false;
  LOWBIT_GRID_LOOP(e, count) bad |= !isfinite(any_float(data, type, e));
  if (__syncthreads_or(bad) && threadIdx.x == 0) atomicOr(flag, 1u);
}

// max |x| as the bits of a non-negative float (their integer order is the float order); NaN is skipped
// (fmaxf returns the number), as the CPU recipe's amax skips it.
__global__ void abs_max_kernel(const void* data, DType type, std::size_t count, unsigned* amax_bits) {
  float m = 0.0f;
  LOWBIT_GRID_LOOP(e, count) m = fmaxf(m, fabsf(any_float(data, type, e)));
  __shared__ float partial[kThreads];
  partial[threadIdx.x] = m;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half)
      partial[threadIdx.x] = fmaxf(partial[threadIdx.x], partial[threadIdx.x + half]);
    __syncthreads();
  }
  if (threadIdx.x == 0) atomicMax(amax_bits, __float_as_uint(partial[0]));
}

void check_gradient_type(DType type, const char* fn) {
  if (type != DType::float32 && type != DType::bfloat16 && type != DType::float16)
    throw RangeError(std::string(fn) + ": gradient dtype " + std::string(dtype_name(type)) +
                     " is not float32, bfloat16 or float16");
}

void check_float_type(DType type, const char* fn) {
  if (type != DType::float32 && type != DType::bfloat16 && type != DType::float16 &&
      type != DType::float8_e4m3fn && type != DType::float8_e5m2)
    throw RangeError(std::string(fn) + ": dtype " + std::string(dtype_name(type)) +
                     " is not float32, bfloat16, float16 or a float8 type");
}

}  // namespace

void adam_update(float* param, const void* grad, DType grad_type, float multiplier, float* exp_avg,
                 float* exp_avg_sq, std::size_t count, const AdamStep& step) {
  check_gradient_type(grad_type, "cuda::adam_update");
  if (count == 0) return;
  adam_kernel<<<blocks_for(count), kThreads>>>(param, grad, grad_type, multiplier, exp_avg, exp_avg_sq, count,
                                               step);
  check_cuda(cudaGetLastError(), "adam_kernel");
}

void sgd_update(float* param, const void* grad, DType grad_type, float multiplier, float* momentum_buffer,
                std::size_t count, const SgdStep& step) {
  check_gradient_type(grad_type, "cuda::sgd_update");
  if (count == 0) return;
  sgd_kernel<<<blocks_for(count), kThreads>>>(param, grad, grad_type, multiplier, momentum_buffer, count,
                                              step);
  check_cuda(cudaGetLastError(), "sgd_kernel");
}

void add_sum_squares(const void* data, DType type, std::size_t count, double* sum) {
  check_float_type(type, "cuda::add_sum_squares");
  if (count == 0) return;
  sum_squares_kernel<<<blocks_for(count), kThreads>>>(data, type, count, sum);
  check_cuda(cudaGetLastError(), "sum_squares_kernel");
}

void abs_max(const void* data, DType type, std::size_t count, float* amax) {
  check_float_type(type, "cuda::abs_max");
  if (count == 0) return;
  abs_max_kernel<<<blocks_for(count), kThreads>>>(data, type, count, reinterpret_cast<unsigned*>(amax));
  check_cuda(cudaGetLastError(), "abs_max_kernel");
}

void flag_nonfinite(const void* data, DType type, std::size_t count, unsigned* nonfinite) {
  check_float_type(type, "cuda::flag_nonfinite");
  if (count == 0) return;
  nonfinite_kernel<<<blocks_for(count), kThreads>>>(data, type, count, nonfinite);
  check_cuda(cudaGetLastError(), "nonfinite_kernel");
}

}  // namespace lowbit::kernels::cuda
